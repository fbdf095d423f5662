"""``Scheme``: the optional base class of a plugin's per-hub object.

A plugin's ``create_scheme`` hook returns one object per hub; the hub
registers it with its own plugin manager, so its ``@authhub.hookimpl``
methods answer for that hub alone. Subclassing :class:`Scheme` is not
required; it gives the attributes the hub reads, with their defaults::

    class ApiKeyScheme(authhub.Scheme):
        position = 500

        @authhub.hookimpl
        def authenticate(self, request):
            ...

    @authhub.hookimpl
    def create_scheme(hub, name, settings):
        return ApiKeyScheme(hub, name, settings)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from authhub.hub import AuthHub

#: Where a scheme goes in the default chain when it does not say.
DEFAULT_POSITION = 1000


class Scheme:
    """One hub's scheme: its name, its settings and whatever state it keeps.

    :param hub: the hub that owns the object.
    :param name: the scheme's name in that hub (its entry point's name).
    :param settings: the scheme's settings section, read-only.
    """

    #: The scheme's place in the default chain (``schemes`` not configured):
    #: lower runs first, equal positions go by name. The bundled schemes use
    #: 100 (token), 200 (oauth), 300 (basic) and 400 (session), so schemes
    #: reading a header of their own are tried before the session cookie.
    position: ClassVar[int] = DEFAULT_POSITION

    def __init__(self, hub: AuthHub, name: str, settings: Mapping[str, Any]) -> None:
        self.hub = hub
        self.name = name
        self.settings = settings

    def openapi(self) -> dict[str, Any] | None:
        """This scheme's OpenAPI 3.1 Security Scheme Object, or ``None`` if it has none.

        The framework adapters put it in an application's ``openapi.json``
        (``{"type": "http", "scheme": "basic"}``, ``{"type": "apiKey", ...}``).
        """
        return None

    def close(self) -> None:
        """Release what the object holds (connections, threads); called by :meth:`AuthHub.close`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
