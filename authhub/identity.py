"""Who sent the request: the values the chain hands back."""

from __future__ import annotations

from typing import Any, Protocol

import attrs


class UserLike(Protocol):
    """What authhub reads of a user, whichever store it comes from."""

    @property
    def id(self) -> Any: ...

    @property
    def username(self) -> str: ...

    @property
    def is_active(self) -> bool: ...


@attrs.frozen
class AnonymousUser:
    """The null user for requests that no scheme answered (Starlette's idea)."""

    is_authenticated: bool = attrs.field(default=False, init=False)
    is_active: bool = attrs.field(default=False, init=False)
    username: None = attrs.field(default=None, init=False)
    id: None = attrs.field(default=None, init=False)

    def __bool__(self) -> bool:
        return False


@attrs.frozen
class User:
    """A user as a user store hands it out, detached from any database session.

    ``id`` is an integer in the built-in store; an application's store may
    use strings (UUIDs).
    """

    id: int | str
    username: str
    is_active: bool = True

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def pk(self) -> int | str:
        """The id under Django's name, for code that keys on ``user.pk`` (DRF's ``UserRateThrottle``)."""
        return self.id


@attrs.frozen
class Identity:
    """The answer of the chain: ``user``, ``auth`` and the scheme that answered.

    ``scheme`` is ``None`` for the anonymous identity.
    """

    user: Any
    auth: Any = None
    scheme: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.scheme is not None
