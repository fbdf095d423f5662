"""``request.user`` as Django code expects it, whatever the user store returns.

Django's views, templates (``{{ user.get_username }}``), ``PermWrapper``
and DRF's permissions and throttles read ``is_authenticated``,
``is_anonymous``, ``get_username()``, ``pk``, ``is_staff``,
``is_superuser`` and ``has_perm()``. :class:`DjangoUser` gives a store's
user those names, with what the user itself provides where it does;
:class:`DjangoAnonymousUser` is the anonymous user with the semantics of
``django.contrib.auth.models.AnonymousUser`` (which needs
``django.contrib.auth`` installed; this one does not).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from authhub.contrib.users import UserProxy, is_default_anonymous
from authhub.identity import Identity

__all__ = ["DjangoAnonymousUser", "DjangoUser", "django_user"]


def _permission_list(perm_list: Iterable[str]) -> list[str]:
    # Django refuses a single string here: it would check one permission per character.
    if isinstance(perm_list, str) or not isinstance(perm_list, Iterable):
        raise ValueError("perm_list must be an iterable of permissions.")
    return list(perm_list)


class DjangoUser(UserProxy):
    """A store's user with the attributes and methods of a Django user.

    ``is_staff`` and ``is_superuser`` are the user's own when it has them,
    else ``False``. ``has_perm``/``has_module_perms`` are ``True`` for an
    active superuser (as in Django), else the user's own answer, else
    ``False``.
    """

    __slots__ = ()

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> Any:
        """The id under Django's name (DRF's ``UserRateThrottle`` keys on it)."""
        return self.id

    @property
    def is_staff(self) -> bool:
        return bool(getattr(self.authhub_user, "is_staff", False))

    @property
    def is_superuser(self) -> bool:
        return bool(getattr(self.authhub_user, "is_superuser", False))

    def get_username(self) -> str:
        return self.username

    def natural_key(self) -> tuple[str]:
        return (self.username,)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        if self.is_active and self.is_superuser:
            return True
        own = getattr(self.authhub_user, "has_perm", None)
        return bool(own(perm, obj)) if own is not None else False

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in _permission_list(perm_list))

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and self.is_superuser:
            return True
        own = getattr(self.authhub_user, "has_module_perms", None)
        return bool(own(app_label)) if own is not None else False

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        own = getattr(self.authhub_user, "get_all_permissions", None)
        return set(own(obj)) if own is not None else set()


class DjangoAnonymousUser:
    """The anonymous user, as ``django.contrib.auth.models.AnonymousUser`` behaves.

    No id, an empty user name, no permission; ``str()`` is ``"AnonymousUser"``.
    """

    __slots__ = ()

    id = None
    pk = None
    username = ""
    is_active = False
    is_staff = False
    is_superuser = False
    is_authenticated = False
    is_anonymous = True

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in _permission_list(perm_list))

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return set()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DjangoAnonymousUser)

    def __hash__(self) -> int:
        return 1  # as Django's: every anonymous user is the same

    def __str__(self) -> str:
        return "AnonymousUser"

    def __repr__(self) -> str:
        return "<DjangoAnonymousUser>"


def django_user(identity: Identity) -> Any:
    """``request.user`` for ``identity``.

    The store's user as a :class:`DjangoUser` - unless it is a Django user
    model already (a store over Django's own users), which is handed over
    as it is. authhub's null user becomes a :class:`DjangoAnonymousUser`;
    an ``unauthenticated_user`` the application configured stays its own.
    """
    user = identity.user
    if not identity.is_authenticated:
        return DjangoAnonymousUser() if is_default_anonymous(identity) else user
    # Imported here: the model module needs the application registry, which is
    # not ready while Django imports this package from INSTALLED_APPS.
    from django.contrib.auth.base_user import AbstractBaseUser

    return user if isinstance(user, AbstractBaseUser) else DjangoUser(user)
