"""The keys this server signs JWT access tokens and ID tokens with, kept in the store.

A key is made on first use (RSA 2048 for ``RS256``, P-256 for ``ES256``) and
named by its RFC 7638 thumbprint (``kid``). At most one key per algorithm is
current; :meth:`SigningKeys.rotate` makes new current keys and gives the old
ones a ``retire_after``: now plus the longest lifetime of a token they
signed (and :data:`PUBLISH_MARGIN`), until which their public halves stay in
the JWKS so every token they signed still verifies. After it they drop out.

Private keys never leave the store and this object: they are kept as JWKs,
sealed with ``oauth.key_encryption_key`` (JWE ``dir`` + ``A256GCM``) when it
is set, and no ``repr`` shows them. Each hub keeps what it read in a
:class:`authhub.TTLCache`, used only while the invalidation channel is
current; a new or rotated key is announced as ``("oauth-keys", <kid>)``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet, OctKey, RSAKey, import_key

from authhub import AuthHub, ConfigurationError, TTLCache
from authhub_oauth.models import SigningKeyRecord, aware, utcnow

#: What a new or rotated key is announced as (key: its ``kid``).
KEYS_KIND = "oauth-keys"
#: ID tokens are signed with RS256: the default every OpenID Connect client accepts (OIDC Registration §2).
ID_TOKEN_ALG = "RS256"  # noqa: S105 - an algorithm's name, not a secret
RSA_KEY_BITS = 2048
#: Seconds a retired key stays published beyond the last expiry of a token it signed: clocks differ,
#: and a process may sign with the old key until the rotation's announcement reaches it.
PUBLISH_MARGIN = 60
#: The least time between two re-reads of the store for a ``kid`` this hub does not know.
UNKNOWN_KID_REREAD = 1.0
#: The members of a JWK that are public (RFC 7518 §6.2.1, §6.3.1).
PUBLIC_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}
#: The one entry of a hub's key cache.
_ALL = "keys"


@attrs.frozen
class KeyInfo:
    """A signing key as ``authhub oauth keys list`` shows it: never a private part."""

    kid: str
    alg: str
    created_at: dt.datetime
    #: ``None`` while the key is current; else the end of its publication.
    retire_after: dt.datetime | None

    @property
    def is_current(self) -> bool:
        return self.retire_after is None

    def as_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid, "alg": self.alg, "created": self.created_at.isoformat(),
            "current": self.is_current,
            "published_until": None if self.retire_after is None else self.retire_after.isoformat(),
        }


@attrs.frozen
class PublishedKey(KeyInfo):
    """A key of the JWKS, with its public half."""

    public: dict[str, str] = attrs.field(eq=False, repr=False)

    def jwk(self) -> dict[str, Any]:
        """The public JWK as the JWKS document shows it (RFC 7517 §4)."""
        return {**self.public, "kid": self.kid, "alg": self.alg, "use": "sig"}


@attrs.frozen
class SigningKey:
    """A current key with its private half, to sign with."""

    kid: str
    alg: str
    private: Key = attrs.field(repr=False, eq=False)


@attrs.frozen
class KeyRing:
    """What one read of the store gives: the published keys, and the current keys' private halves."""

    published: tuple[PublishedKey, ...]
    current: Mapping[str, SigningKey] = attrs.field(repr=False)
    key_set: KeySet = attrs.field(repr=False, eq=False)

    def until(self) -> float | None:
        """When the first published key retires (the ring is wrong after it), as ``time.time()``."""
        ends = [key.retire_after.timestamp() for key in self.published if key.retire_after is not None]
        return min(ends) if ends else None


class SigningKeys:
    """One hub's signing keys: made on first use, rotated, published (see the module doc).

    :param settings: the ``oauth`` section (token lifetimes, ``key_encryption_key``, ``cache_ttl``).
    """

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        self.hub = hub
        #: How long a retired key stays published: the longest-lived token a key signs, and the margin.
        self.retention = dt.timedelta(
            seconds=max(settings["access_token_lifetime"], settings["id_token_lifetime"]) + PUBLISH_MARGIN)
        kek = settings["key_encryption_key"]
        self._kek: OctKey | None = (
            OctKey.import_key(base64.urlsafe_b64decode(kek + "=" * (-len(kek) % 4))) if kek else None)
        ttl = float(settings["cache_ttl"])
        self._cache: TTLCache[str, KeyRing] | None = TTLCache(ttl, 1) if ttl > 0 else None
        self._reread_at = 0.0
        self._creating = threading.Lock()

    def __repr__(self) -> str:
        return f"<SigningKeys encrypted={self._kek is not None}>"

    # -- signing ---------------------------------------------------------------------------

    def current(self, alg: str) -> SigningKey:
        """The current key for ``alg``, made (and announced) when there is none yet."""
        key = self._ring().current.get(alg)
        if key is not None:
            return key
        with self._creating:
            key = self._ring(fresh=True).current.get(alg)
            if key is None:
                self._create(alg)
                key = self._ring(fresh=True).current[alg]
        return key

    def _create(self, alg: str) -> None:
        private: Key = (RSAKey.generate_key(RSA_KEY_BITS, private=True) if alg == "RS256"
                        else ECKey.generate_key("P-256", private=True))
        kid = private.thumbprint()
        try:
            with self.hub.store.session() as session:
                session.add(SigningKeyRecord(kid=kid, alg=alg, private_jwk=self._seal(private),
                                             created_at=utcnow(), retire_after=None))
        except sa.exc.IntegrityError:
            return  # another process made the current key for alg at the same moment: that one is used
        self.hub.invalidate(KEYS_KIND, kid)

    # -- publishing and verifying ------------------------------------------------------------

    def published(self) -> tuple[PublishedKey, ...]:
        """The keys of the JWKS: each current key and each retired one until its ``retire_after``."""
        return self._ring(private=False).published

    def key_set(self, kid: str | None = None) -> KeySet:
        """The published public keys; read again (at most once a second) when ``kid`` is not among them.

        A key made or rotated in another process is announced, but a token it
        signed can arrive before the announcement does.
        """
        ring = self._ring(private=False)
        if kid is not None and all(key.kid != kid for key in ring.published):
            now = time.monotonic()
            if now - self._reread_at >= UNKNOWN_KID_REREAD:
                self._reread_at = now
                ring = self._ring(private=False, fresh=True)
        return ring.key_set

    # -- rotation ------------------------------------------------------------------------

    def rotate(self, algorithms: Sequence[str]) -> tuple[list[PublishedKey], dt.datetime]:
        """Make a new current key for each of ``algorithms`` and for every algorithm that has one.

        The keys they replace stay published until the returned moment. Announced once committed.
        """
        now = utcnow()
        retire_after = now + self.retention
        made: list[tuple[str, Key]] = []
        with self.hub.store.session() as session:
            current = session.scalars(
                sa.select(SigningKeyRecord.alg).where(SigningKeyRecord.retire_after.is_(None))).all()
            session.execute(sa.update(SigningKeyRecord).where(SigningKeyRecord.retire_after.is_(None))
                            .values(retire_after=retire_after))
            for alg in dict.fromkeys([*algorithms, *sorted(current)]):
                private: Key = (RSAKey.generate_key(RSA_KEY_BITS, private=True) if alg == "RS256"
                                else ECKey.generate_key("P-256", private=True))
                session.add(SigningKeyRecord(kid=private.thumbprint(), alg=alg, private_jwk=self._seal(private),
                                             created_at=now, retire_after=None))
                made.append((alg, private))
        for _, private in made:
            self.hub.invalidate(KEYS_KIND, private.thumbprint())
        return [PublishedKey(private.thumbprint(), alg, now, None, _public_members(private.as_dict(private=False)))
                for alg, private in made], retire_after

    def all_keys(self) -> list[KeyInfo]:
        """Every key in the store, retired ones too, oldest first (read without unsealing a key)."""
        with self.hub.store.session() as session:
            rows = session.execute(sa.select(SigningKeyRecord.kid, SigningKeyRecord.alg, SigningKeyRecord.created_at,
                                             SigningKeyRecord.retire_after).order_by(SigningKeyRecord.id)).all()
        return [KeyInfo(kid, alg, _aware(created_at), aware(retire_after))
                for kid, alg, created_at, retire_after in rows]

    def invalidated(self, kind: str, key: str) -> None:
        if self._cache is not None and kind in (KEYS_KIND, "*"):
            self._cache.clear()

    # -- reading the store ---------------------------------------------------------------------

    def _ring(self, *, private: bool = True, fresh: bool = False) -> KeyRing:
        """The keys as the store has them; from the cache while the channel is current and ``fresh`` is not asked."""
        cache = self._cache if self.hub.changes.current else None
        if cache is not None and not fresh:
            kept = cache.get(_ALL)
            if kept is not None:
                return kept
        generation = cache.generation if cache is not None else 0  # read before the store is
        ring = self._read(private=private or cache is not None)
        if cache is not None:
            cache.put(_ALL, ring, generation, expires_at=ring.until())
        return ring

    def _read(self, *, private: bool) -> KeyRing:
        now = utcnow()
        with self.hub.store.session() as session:
            records = session.scalars(
                sa.select(SigningKeyRecord)
                .where(sa.or_(SigningKeyRecord.retire_after.is_(None), SigningKeyRecord.retire_after > now))
                .order_by(SigningKeyRecord.id)
            ).all()
        published = tuple(self._published(record) for record in records)
        current = {record.alg: SigningKey(record.kid, record.alg, self._private(record))
                   for record in records if record.retire_after is None} if private else {}
        key_set = KeySet([import_key(key.jwk()) for key in published])
        return KeyRing(published, current, key_set)

    def _published(self, record: SigningKeyRecord) -> PublishedKey:
        public = _public_members(self._unseal(record))
        return PublishedKey(record.kid, record.alg, _aware(record.created_at), aware(record.retire_after), public)

    def _private(self, record: SigningKeyRecord) -> Key:
        private = import_key(self._unseal(record))
        if private.thumbprint() != record.kid:
            # A row's key swapped for another's: sign with nothing rather than with the wrong key.
            raise ConfigurationError(f"oauth signing key {record.kid!r}: the stored key does not match its kid")
        return private

    # -- sealing --------------------------------------------------------------------------------

    def _seal(self, private: Key) -> str:
        text = json.dumps(private.as_dict(private=True), separators=(",", ":"))
        if self._kek is None:
            return text
        return jwe.encrypt_compact({"alg": "dir", "enc": "A256GCM"}, text, self._kek)

    def _unseal(self, record: SigningKeyRecord) -> dict[str, Any]:
        text = record.private_jwk
        if not text.startswith("{"):  # a JWE: sealed with a key-encryption key
            if self._kek is None:
                raise ConfigurationError("oauth: the signing keys in the store are encrypted; "
                                         "set oauth.key_encryption_key (AUTHHUB_OAUTH_KEY_ENCRYPTION_KEY)")
            try:
                text = (jwe.decrypt_compact(text, self._kek).plaintext or b"").decode("utf-8")
            except (JoseError, ValueError):
                raise ConfigurationError(f"oauth.key_encryption_key: it cannot decrypt signing key "
                                         f"{record.kid!r} (another key encrypted it)") from None
        data: dict[str, Any] = json.loads(text)
        return data


def _aware(moment: dt.datetime) -> dt.datetime:
    aware_moment = aware(moment)
    assert aware_moment is not None
    return aware_moment


def _public_members(jwk: Mapping[str, Any]) -> dict[str, str]:
    return {member: str(jwk[member]) for member in PUBLIC_MEMBERS[str(jwk["kty"])]}
