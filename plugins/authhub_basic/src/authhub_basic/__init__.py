"""HTTP Basic authentication (RFC 7617) for authhub: the scheme ``basic``.

Installed, it is found through the entry point ``basic`` in the group
``authhub``. Each hub gets its own :class:`BasicScheme` (``create_scheme``),
which reads ``Authorization: Basic <base64(user-id:password)>``, checks the
password with the hub's user store and answers ``(user, None)``:
``request.auth`` is ``None`` for Basic.

Settings (``[tool.authhub.basic]``, ``AUTHHUB_BASIC_<KEY>``,
``AuthHub(basic={...})``): ``realm``, ``cache_ttl``, ``cache_size``,
``max_header_size``; see :data:`authhub_basic.settings.SETTINGS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import authhub
from authhub_basic.credentials import Credentials, decode_token, encode_credentials
from authhub_basic.scheme import BasicScheme
from authhub_basic.settings import SETTINGS, BasicSettings

try:
    __version__ = version("authhub-basic")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "BasicScheme",
    "BasicSettings",
    "Credentials",
    "__version__",
    "decode_token",
    "encode_credentials",
]


@authhub.hookimpl
def scheme_settings() -> dict[str, authhub.Setting]:
    return dict(SETTINGS)


@authhub.hookimpl
def create_scheme(hub: authhub.AuthHub, name: str, settings: Mapping[str, Any]) -> BasicScheme:
    return BasicScheme(hub, name, settings)
