"""The tables of the authorization server: clients, authorization codes, tokens, signing keys.

Nothing secret is stored in the clear: client secrets, codes, access and
refresh tokens are kept as SHA-256 digests. They are all generated here
with more than 256 bits of randomness, so a fast digest is as safe as a
slow hash and lets a token be found by its digest with one index lookup.

Rows refer to users by ``str(user.id)`` (a user store may use integers,
UUIDs or anything else), with no foreign key to any user table.

Private signing keys (:class:`SigningKeyRecord`) are kept as JWKs, encrypted
when ``oauth.key_encryption_key`` is set (:mod:`authhub_oauth.keys`), and
never shown by a ``repr``.

The rows double as Authlib's model mixins (``ClientMixin``,
``AuthorizationCodeMixin``, ``TokenMixin``), which is all Authlib asks of a
storage layer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy.orm import Mapped, mapped_column

from authhub import Base

#: The grant types a client may be registered for.
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
#: How confidential clients authenticate at the token, revocation and introspection endpoints.
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """``moment`` as an aware UTC datetime (SQLite hands timestamps back naive)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def digest(secret: str) -> str:
    """The stored form of a generated secret: hex SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def changed(result: Any) -> int:
    """How many rows an ``UPDATE`` changed (its cursor result's ``rowcount``)."""
    return int(result.rowcount)


def split(text: str | None) -> list[str]:
    return (text or "").split()


class OAuthClient(Base, ClientMixin):  # type: ignore[misc]
    """A registered client: confidential (with a secret digest) or public."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_secret_digest: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    grant_types: Mapped[str] = mapped_column(sa.Text(), default="")
    redirect_uris: Mapped[str] = mapped_column(sa.Text(), default="")
    scope: Mapped[str] = mapped_column(sa.Text(), default="")
    may_introspect: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    @property
    def is_public(self) -> bool:
        return self.client_secret_digest is None

    # -- Authlib's ClientMixin ---------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous registration may omit redirect_uri (RFC 6749 §3.1.2.3).
        uris = split(self.redirect_uris)
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant: all registered scopes when none is asked, ``None`` (refused) for any other."""
        allowed = split(self.scope)
        if not scope:
            return " ".join(allowed)
        wanted = scope_to_list(scope)
        if not set(wanted) <= set(allowed):
            return None
        return " ".join(dict.fromkeys(wanted))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in split(self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_digest is None:
            return False
        return hmac.compare_digest(digest(client_secret), self.client_secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in split(self.grant_types)

    def __repr__(self) -> str:
        return f"<OAuthClient {self.client_id!r} {self.name!r}>"


class AuthorizationCode(Base, AuthorizationCodeMixin):  # type: ignore[misc]
    """An authorization code, redeemable once (``used_at`` is set atomically)."""

    __tablename__ = "oauth_authorization_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    #: ``str(user.id)`` of the user store's user; no foreign key, users may live anywhere.
    user_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    redirect_uri: Mapped[str] = mapped_column(sa.Text(), default="")
    scope: Mapped[str] = mapped_column(sa.Text(), default="")
    code_challenge: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: OpenID Connect: the ``nonce`` of the authentication request, repeated in the ID token.
    nonce: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    #: OpenID Connect: when the user signed in (the session's start), the ID token's ``auth_time``.
    auth_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        moment = aware(self.auth_time)
        return None if moment is None else int(moment.timestamp())

    def is_expired(self) -> bool:
        expires_at = aware(self.expires_at)
        return expires_at is not None and expires_at <= utcnow()

    def __repr__(self) -> str:
        return f"<AuthorizationCode id={self.id} client={self.client_id!r}>"


class OAuthToken(Base, TokenMixin):  # type: ignore[misc]
    """An access token and its optional refresh token.

    Tokens born of one grant share a ``family_id``: rotating a refresh token
    issues the next row of the family, and reusing a rotated refresh token
    revokes the whole family.
    """

    __tablename__ = "oauth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    access_token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    refresh_token_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True, nullable=True)
    client_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    #: ``str(user.id)`` of the user store's user, ``None`` for a client-credentials token.
    user_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True, index=True)
    scope: Mapped[str] = mapped_column(sa.Text(), default="")
    family_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    authorization_code_id: Mapped[int | None] = mapped_column(nullable=True, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    refresh_used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    #: The ``jti`` of a JWT access token (``None`` for an opaque one): what its revocation is announced by.
    jti: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, unique=True)
    #: RFC 7638 thumbprint of the DPoP key the tokens are bound to (RFC 9449); ``None`` for bearer tokens.
    dpop_jkt: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)

    # -- Authlib's TokenMixin ------------------------------------------------------

    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        expires_at = aware(self.expires_at)
        issued_at = aware(self.issued_at)
        assert expires_at is not None and issued_at is not None
        return int((expires_at - issued_at).total_seconds())

    def is_expired(self) -> bool:
        expires_at = aware(self.expires_at)
        return expires_at is not None and expires_at <= utcnow()

    def is_refresh_expired(self) -> bool:
        expires_at = aware(self.refresh_expires_at)
        return expires_at is None or expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return f"<OAuthToken id={self.id} client={self.client_id!r} family={self.family_id!r}>"


class SigningKeyRecord(Base):
    """A key this server signs JWT access tokens and ID tokens with.

    At most one key per algorithm is current (``retire_after`` is ``NULL``);
    a rotation sets the old key's ``retire_after`` to when the last token it
    signed expires, until which its public half stays published.
    """

    __tablename__ = "oauth_signing_key"
    __table_args__ = (
        # Two processes making the first key at once: one insert fails and reads the other's.
        sa.Index("uq_oauth_signing_key_current_alg", "alg", unique=True,
                 sqlite_where=sa.text("retire_after IS NULL"), postgresql_where=sa.text("retire_after IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The RFC 7638 thumbprint of the public key.
    kid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    alg: Mapped[str] = mapped_column(sa.String(16))
    #: The private JWK as JSON, or a JWE (``dir``, ``A256GCM``) of it under ``oauth.key_encryption_key``.
    private_jwk: Mapped[str] = mapped_column(sa.Text())
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: ``NULL`` while current; after a rotation, the end of its publication.
    retire_after: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    def __repr__(self) -> str:
        return f"<SigningKeyRecord kid={self.kid!r} alg={self.alg!r}>"


class RevokedJWT(Base):
    """A revoked JWT access token, by its ``jti``, until it expires (the revocation list of JWTs)."""

    __tablename__ = "oauth_revoked_jwt"

    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)

    def __repr__(self) -> str:
        return f"<RevokedJWT {self.jti!r}>"
