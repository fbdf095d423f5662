"""DPoP proofs as a client makes them (RFC 9449 §4.2), built with joserfc; ES256 keys unless told."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, Key


def new_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def make_proof(key: Key, method: str, url: str, *, token: str | None = None, alg: str = "ES256",
               header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A proof for ``method url`` (``ath`` of ``token``).

    ``header`` and keyword claims replace the defaults; ``None`` drops one.
    """
    protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    protected.update(header or {})
    protected = {name: value for name, value in protected.items() if value is not None}
    values: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        values["ath"] = ath(token)
    values.update(claims)
    payload = {name: value for name, value in values.items() if value is not None}
    return jws.serialize_compact(protected, json.dumps(payload).encode(), key, algorithms=[alg])


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 computed here from the members, independently of joserfc."""
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[public_jwk["kty"]]
    canonical = json.dumps({name: public_jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
