"""The ``basic`` settings: their declaration, and the checked value a scheme object keeps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from authhub import ConfigurationError, Setting

SETTINGS: dict[str, Setting] = {
    "realm": Setting("api", help="The realm named in the WWW-Authenticate challenge."),
    "cache_ttl": Setting(0.0, kind=float,
                         help="Seconds a verified user:password stays cached in this process; 0 turns the cache off."),
    "cache_size": Setting(10000, kind=int, help="The most verified credentials the cache keeps."),
    "max_header_size": Setting(8192, kind=int,
                               help="Longest Basic Authorization header (characters) read; longer ones are refused."),
}

#: RFC 5234's CTL: nothing of the kind may reach a header line.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@attrs.frozen
class BasicSettings:
    """One hub's ``basic`` section, checked once when the hub is built."""

    realm: str
    cache_ttl: float
    cache_size: int
    max_header_size: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any], name: str = "basic") -> BasicSettings:
        """Check ``section`` (the plugin's settings, named ``name``).

        :raises ConfigurationError: a value out of range, naming the setting.
        """
        realm: str = section["realm"]
        if _CONTROL.search(realm):
            raise ConfigurationError(f"{name}.realm: must not contain control characters")
        max_header_size: int = section["max_header_size"]
        if max_header_size < 16:
            raise ConfigurationError(f"{name}.max_header_size: must be at least 16, got {max_header_size}")
        cache_ttl: float = section["cache_ttl"]
        if cache_ttl < 0:
            raise ConfigurationError(f"{name}.cache_ttl: must be 0 (off) or a number of seconds, got {cache_ttl}")
        cache_size: int = section["cache_size"]
        if cache_size < 1:
            raise ConfigurationError(f"{name}.cache_size: must be at least 1, got {cache_size}")
        return cls(realm, cache_ttl, cache_size, max_header_size)

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value (RFC 7617 §2, ``charset="UTF-8"``)."""
        quoted = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        return f'Basic realm="{quoted}", charset="UTF-8"'
