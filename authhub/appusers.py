"""A user store on an application's own table, for tests of the ``user_store`` contract.

:class:`AccountStore` keeps users the way an application might: in its own
table (``app_account``), with its own column names, string ids (UUIDs)
and its own argon2 hashes. It knows nothing of authhub's tables and
announces nothing: deactivating an account there (:meth:`disable`) goes
behind authhub's back, as an application's admin page would. Every scheme
and command must work against it; ``authhub.testing``'s
``authhub_account_hub`` fixture builds a hub that uses it.
"""

from __future__ import annotations

import uuid
from typing import Any

import argon2
import sqlalchemy as sa

from authhub.errors import AuthenticationFailed, UserInactive
from authhub.hookspecs import hookimpl
from authhub.identity import User

_metadata = sa.MetaData()
accounts = sa.Table(
    "app_account",
    _metadata,
    sa.Column("account_uuid", sa.String(36), primary_key=True),
    sa.Column("login", sa.String(150), unique=True, nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
)


class AccountStore:
    """Users in ``app_account``: ``get``, ``get_by_username``, ``check_password``, and no management."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self._dummy = self.hasher.hash("dummy")
        _metadata.create_all(engine)

    def get(self, user_id: Any) -> User | None:
        return self._one(accounts.c.account_uuid == str(user_id))

    def get_by_username(self, username: str) -> User | None:
        return self._one(accounts.c.login == username)

    def check_password(self, username: str, password: str) -> User:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(accounts).where(accounts.c.login == username)).first()
        if row is None:
            self._verify(self._dummy, password)
            raise AuthenticationFailed("Invalid username/password.")
        if not self._verify(row.secret_hash, password):
            raise AuthenticationFailed("Invalid username/password.")
        if not row.enabled:
            raise UserInactive()
        return User(row.account_uuid, row.login, True)

    # -- what the application itself does ---------------------------------------

    def add(self, username: str, password: str) -> User:
        account_uuid = str(uuid.uuid4())
        with self.engine.begin() as connection:
            connection.execute(sa.insert(accounts).values(
                account_uuid=account_uuid, login=username, secret_hash=self.hasher.hash(password), enabled=True))
        return User(account_uuid, username, True)

    def disable(self, username: str) -> None:
        """Deactivate an account directly in the table, telling authhub nothing."""
        with self.engine.begin() as connection:
            connection.execute(sa.update(accounts).where(accounts.c.login == username).values(enabled=False))

    def _one(self, condition: Any) -> User | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(accounts).where(condition)).first()
        return None if row is None else User(row.account_uuid, row.login, bool(row.enabled))

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False


class AccountStorePlugin:
    """A plugin that hands the hub an :class:`AccountStore` on the hub's own database."""

    @hookimpl
    def user_store(self, hub: Any) -> AccountStore:
        return AccountStore(hub.store.engine)
