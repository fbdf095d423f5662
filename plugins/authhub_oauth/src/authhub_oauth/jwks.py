"""An issuer's signing keys, as the resource server needs them for JWT access tokens.

The keys come from a JWKS file, a JWKS URL, or (with neither configured)
the ``jwks_uri`` of the issuer's metadata: OpenID Connect Discovery
(``<issuer>/.well-known/openid-configuration``), else RFC 8414
(``/.well-known/oauth-authorization-server`` with the issuer's path after
it). A metadata document counts only when its ``issuer`` is exactly the
configured one (RFC 8414 §3.3, OIDC Discovery §4.3).

:class:`KeySource` keeps the keys and fetches them again when they are
older than ``jwks_cache_seconds`` or a token names a ``kid`` it does not
know, but never more than once every ``jwks_min_refresh_seconds``: a flood
of made-up key ids costs the issuer at most one request in that time. A
fetch runs in the caller's thread (the resource server is never called on
an event loop for a token that needs one), with the short ``http_timeout``.
While the issuer cannot be reached the keys already fetched keep working;
a token that needs a fetch is refused with 503.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from authlib.common.security import is_secure_transport
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authhub import StoreUnavailable

log = logging.getLogger("authhub.oauth")

#: What a refused token that needed keys is told (503): never the issuer's address or the cause.
UNAVAILABLE = "The token issuer's keys are unavailable."
#: The largest metadata or JWKS document read.
MAX_DOCUMENT_SIZE = 512 * 1024


class KeysUnavailable(Exception):
    """A document could not be fetched or read; the message says why, for the log (never a secret)."""


def metadata_urls(issuer: str) -> list[str]:
    """Where ``issuer`` publishes its metadata, in the order they are tried.

    OpenID Connect Discovery appends ``/.well-known/openid-configuration`` to the
    issuer; RFC 8414 §3.1 puts ``/.well-known/oauth-authorization-server`` between
    the host and the issuer's path.
    """
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    return [
        f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        urlunsplit((parts.scheme, parts.netloc, f"/.well-known/oauth-authorization-server{path}", "", "")),
    ]


def fetch_json(http: httpx.Client, url: str) -> Any:
    """The JSON document at ``url``.

    :raises KeysUnavailable: no answer, not 200, too large, or not JSON.
    """
    try:
        with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise KeysUnavailable(f"{url} answered {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_SIZE:
                    raise KeysUnavailable(f"{url} sent more than {MAX_DOCUMENT_SIZE} bytes")
    except httpx.HTTPError as exc:
        raise KeysUnavailable(f"{url}: {type(exc).__name__}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise KeysUnavailable(f"{url} did not answer JSON") from exc


class FileKeys:
    """A JWKS read from a file (re-read like a URL, so a rotated file is picked up)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> Any:
        try:
            return json.loads(Path(self.path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeysUnavailable(f"cannot read the JWKS file {self.path}: {type(exc).__name__}") from exc


class URLKeys:
    """A JWKS fetched from a configured URL."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http = http
        self.url = url

    def load(self) -> Any:
        return fetch_json(self.http, self.url)


class DiscoveredKeys:
    """A JWKS found through the issuer's metadata (its ``jwks_uri``).

    The ``jwks_uri`` is kept once found; when the JWKS cannot be fetched from it,
    the next fetch reads the metadata again (the issuer may have moved its keys).
    """

    def __init__(self, http: httpx.Client, issuer: str) -> None:
        self.http = http
        self.issuer = issuer
        self.jwks_uri: str | None = None

    def load(self) -> Any:
        if self.jwks_uri is None:
            self.jwks_uri = self.discover()
        try:
            return fetch_json(self.http, self.jwks_uri)
        except KeysUnavailable:
            self.jwks_uri = None
            raise

    def discover(self) -> str:
        """The ``jwks_uri`` of the first metadata document that names this issuer."""
        problems = []
        for url in metadata_urls(self.issuer):
            try:
                document = fetch_json(self.http, url)
            except KeysUnavailable as problem:
                problems.append(str(problem))
                continue
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                # RFC 8414 §3.3: a document for another issuer must not be used.
                problems.append(f"{url} is not the metadata of {self.issuer} (its 'issuer' differs)")
                continue
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not is_secure_transport(jwks_uri):
                problems.append(f"{url} has no https 'jwks_uri'")
                continue
            return jwks_uri
        raise KeysUnavailable("; ".join(problems))


Loader = FileKeys | URLKeys | DiscoveredKeys


class KeySource:
    """The keys of one issuer, fetched when needed and at most once every ``min_refresh`` seconds.

    :param loader: where the JWKS document comes from.
    :param max_age: seconds after which the keys are fetched again (the old ones
        keep working if that fails).
    :param min_refresh: the fewest seconds between two fetches, whatever asks.
    """

    def __init__(self, loader: Loader, *, max_age: float, min_refresh: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.loader = loader
        self.max_age = max_age
        self.min_refresh = min_refresh
        self.clock = clock
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._loaded_at = 0.0
        #: When the last fetch was tried (succeeded or not); ``None`` before the first.
        self._tried_at: float | None = None
        self._last_failed = False
        self._lock = threading.Lock()
        #: How many times the keys were fetched (tests and metrics).
        self.fetches = 0

    def key_set(self) -> KeySet:
        """The keys as they are now: fetched first if there are none yet.

        :raises StoreUnavailable: there are none and they cannot be fetched now.
        """
        keys = self._keys
        if keys is None:
            self._fetch(wait=True)
            keys = self._keys
            if keys is None:
                raise StoreUnavailable(UNAVAILABLE)
        return keys

    def prepare(self, kid: str | None) -> KeySet:
        """The keys to check a token naming ``kid`` with, fetched again if they are stale or lack it.

        :raises StoreUnavailable: the token needs a fetch that fails or failed last time
            (the issuer is unreachable): 503, not a refusal of a token that may be good.
        """
        keys = self.key_set()
        if self.clock() - self._loaded_at > self.max_age:
            # Stale: one thread fetches, the others go on with the keys they have.
            self._fetch(wait=False)
        if kid is not None and kid not in self._kids:
            self._fetch(wait=True)
            if kid not in self._kids and self._last_failed:
                raise StoreUnavailable(UNAVAILABLE)
        return self._keys or keys

    def refresh(self) -> bool:
        """Fetch the keys again unless that was tried very recently; whether it succeeded."""
        return self._fetch(wait=True)

    def _fetch(self, *, wait: bool) -> bool:
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            # Checked under the lock: of many threads asking at once, one fetches.
            tried = self._tried_at
            if tried is not None and self.clock() - tried < self.min_refresh:
                return False
            self._tried_at = self.clock()
            self.fetches += 1
            try:
                keys = KeySet.import_key_set(self.loader.load())
            except (KeysUnavailable, JoseError, ValueError, TypeError, KeyError) as exc:
                self._last_failed = True
                log.error("the token issuer's keys could not be fetched: %s", _reason(exc))
                return False
            self._keys = keys
            self._kids = frozenset(key.kid for key in keys if key.kid)
            self._loaded_at = self.clock()
            self._last_failed = False
            return True
        finally:
            self._lock.release()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeysUnavailable):
        return str(exc)
    return f"not a JWKS ({type(exc).__name__})"
