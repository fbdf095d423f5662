"""The revocation list of JWT access tokens issued here, by ``jti``.

A JWT access token verifies by its signature alone, so its revocation must
be remembered until it expires: :meth:`RevokedJWTs.record` writes each
revoked ``jti`` to ``oauth_revoked_jwt`` in the revoking transaction, and
the revoker announces ``("oauth-jti", <jti>)`` once it is committed. Each
hub keeps the list in memory — read from the store on first use, again
every ``cache_ttl`` seconds and after the channel lost track (``"*"``), and
grown by every announcement — and answers from it only while the
invalidation channel is current; otherwise it asks the store (fail closed).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from authhub import AuthHub
from authhub_oauth.models import RevokedJWT, aware, utcnow

#: What a revoked JWT access token is announced as (key: its ``jti``).
REVOKED_JWT_KIND = "oauth-jti"


class RevokedJWTs:
    """One hub's view of the revocation list (see the module doc).

    :param settings: the ``oauth`` section (``access_token_lifetime``, ``cache_ttl``).
    """

    def __init__(self, hub: AuthHub, settings: Mapping[str, Any]) -> None:
        self.hub = hub
        #: An announced jti is kept at least this long: no token it names lives longer.
        self.lifetime = float(settings["access_token_lifetime"])
        #: Seconds between two reads of the whole list (a safety net; announcements arrive at once).
        self.reread_after = max(float(settings["cache_ttl"]), 1.0)
        self._lock = threading.Lock()
        #: jti -> until when it must be refused (``time.time()``); ``None`` until read.
        self._revoked: dict[str, float] | None = None
        self._read_at = 0.0
        #: Bumped by every ``"*"``: a read that began before it may have missed something.
        self._generation = 0

    def __repr__(self) -> str:
        return f"<RevokedJWTs {len(self._revoked or ())}>"

    @staticmethod
    def record(session: Session, revoked: Iterable[tuple[str, dt.datetime]]) -> None:
        """Add ``(jti, expires_at)`` pairs to the list in ``session``'s transaction (tokens still alive only)."""
        now = utcnow()
        rows = [{"jti": jti, "expires_at": expires_at} for jti, expires_at in revoked
                if (aware(expires_at) or now) > now]
        if rows:
            session.execute(sa.insert(RevokedJWT), rows)

    def is_revoked(self, jti: str) -> bool:
        """Whether the token ``jti`` names was revoked: from memory while the channel is current, else the store."""
        if not self.hub.changes.current:
            return self._read_one(jti)
        revoked = self._revoked
        if revoked is None or time.monotonic() - self._read_at > self.reread_after:
            revoked = self._read_all()
        return jti in revoked

    def known_revoked(self, jti: str) -> bool | None:
        """What memory alone says (``None``: the store must be asked), for answers on an event loop."""
        revoked = self._revoked
        if revoked is None or not self.hub.changes.current or time.monotonic() - self._read_at > self.reread_after:
            return None
        return jti in revoked

    def invalidated(self, kind: str, key: str) -> None:
        if kind == REVOKED_JWT_KIND:
            with self._lock:
                if self._revoked is not None:
                    self._revoked[key] = time.time() + self.lifetime
        elif kind == "*":
            with self._lock:
                self._generation += 1
                self._revoked = None  # an announcement may have been missed: read the list again

    def _read_one(self, jti: str) -> bool:
        with self.hub.store.session() as session:
            return session.get(RevokedJWT, jti) is not None

    def _read_all(self) -> dict[str, float]:
        now = time.time()
        generation = self._generation
        with self.hub.store.session() as session:
            rows = session.execute(sa.select(RevokedJWT.jti, RevokedJWT.expires_at)
                                   .where(RevokedJWT.expires_at > utcnow())).all()
        read = {jti: _timestamp(expires_at) for jti, expires_at in rows}
        with self._lock:
            # Announcements heard while reading stay: a revocation is never undone.
            kept = {jti: until for jti, until in (self._revoked or {}).items() if until > now}
            revoked = {**kept, **read}
            if generation == self._generation:
                self._revoked, self._read_at = revoked, time.monotonic()
            return revoked


def _timestamp(moment: dt.datetime) -> float:
    aware_moment = aware(moment)
    assert aware_moment is not None
    return aware_moment.timestamp()
