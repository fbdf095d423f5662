"""A user store's user behind a framework's idea of a user.

Each adapter subclasses :class:`UserProxy` with what its framework's code
reads (Django's ``get_username()`` and ``has_perm()``, Flask-Login's
``get_id()``, Starlette's ``display_name``); the store's own object stays
untouched for the other frameworks and is reachable as ``authhub_user``.
"""

from __future__ import annotations

from typing import Any

from authhub.identity import AnonymousUser, Identity

__all__ = ["UserProxy", "is_default_anonymous"]


class UserProxy:
    """A user of any user store, with its attributes and whatever a framework adds.

    Attributes the proxy does not define are read from the store's user, so
    an application's own fields (``email``, ...) stay reachable. Two proxies
    are equal when their users' ids are.
    """

    __slots__ = ("authhub_user",)

    def __init__(self, user: Any) -> None:
        #: The object the user store returned.
        self.authhub_user = user

    @property
    def id(self) -> Any:
        return self.authhub_user.id

    @property
    def username(self) -> str:
        return str(self.authhub_user.username)

    @property
    def is_active(self) -> bool:
        return bool(self.authhub_user.is_active)

    def __getattr__(self, name: str) -> Any:
        if name == "authhub_user":  # not set yet (copy, pickle): never look it up on itself
            raise AttributeError(name)
        return getattr(self.authhub_user, name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UserProxy):
            return NotImplemented
        return type(self) is type(other) and bool(self.id == other.id)

    def __hash__(self) -> int:
        return hash(self.id)

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.username!r}>"


def is_default_anonymous(identity: Identity) -> bool:
    """Whether ``identity`` is anonymous with authhub's own null user.

    Adapters replace that one with their framework's anonymous user; an
    ``unauthenticated_user`` the application configured is handed over as it is.
    """
    return not identity.is_authenticated and isinstance(identity.user, AnonymousUser)
