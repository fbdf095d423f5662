"""DPoP proofs (RFC 9449 §4): checked with joserfc, each usable once.

A client proves it holds a private key by signing a short JWT for each
request (``DPoP: <proof>``) with the public key in its header. The token
endpoint binds the tokens it issues to that key (its RFC 7638 thumbprint,
``jkt``); the resource server then accepts such a token only as
``Authorization: DPoP <token>`` together with a fresh proof of the same key
for that very request. :class:`ProofChecker` does the checks of RFC 9449
§4.3 that need no token; the callers compare the key with the token's.

Server-provided nonces (§8) are not used: a proof is fresh by its ``iat``
and its ``jti``, which is remembered (:mod:`authhub_oauth.replay`) for as
long as the proof would be accepted.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import hmac
import json
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs
from authlib.oauth2.rfc6749 import InvalidGrantError, OAuth2Error
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, RSAKey
from joserfc.jws import JWSRegistry

from authhub import AuthenticationFailed, Request
from authhub_oauth.errors import _quoted
from authhub_oauth.replay import ReplayCache

#: RFC 9449 §4.2: the ``typ`` of a proof.
PROOF_TYPE = "dpop+jwt"
#: RFC 9449 §5: the ``token_type`` of a bound access token (token responses, introspection).
TOKEN_TYPE = "DPoP"  # noqa: S105 - the name of a token type, not a secret
#: A proof may claim an ``iat`` this many seconds ahead: clients' clocks drift.
CLOCK_LEEWAY = 5
#: The longest ``DPoP`` header read; a proof is a few hundred bytes (an RSA key makes it about 1 KiB).
MAX_PROOF_SIZE = 8192
#: The longest ``jti`` remembered.
MAX_JTI_LENGTH = 256
#: The key types a proof may be signed with: never a shared secret (``oct``).
KEY_TYPES = frozenset({"EC", "RSA", "OKP"})
#: Members that only a private key has (RFC 7518 §6): a proof carries its public key only.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: RSA keys smaller than this are refused (RFC 7518 §3.3).
MIN_RSA_BITS = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}


class ProofRegistry(JWSRegistry):
    """joserfc's JWS rules for proofs: the header carries the public key, which takes an RSA key past 512 bytes."""

    max_header_length = 2048


class ProofError(Exception):
    """A DPoP proof that cannot be accepted; the message is safe to show the client."""


class DPoPRefused(AuthenticationFailed):
    """A request of the resource server refused for DPoP reasons: 401 with a ``DPoP`` challenge.

    :ivar error: ``"invalid_dpop_proof"`` (the proof) or ``"invalid_token"`` (the token
        or its binding), as RFC 9449 §7.1 says.
    """

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error


class InvalidDPoPProofError(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §5: the token endpoint's answer to a bad proof (400 ``invalid_dpop_proof``)."""

    error = "invalid_dpop_proof"
    status_code = 400


def dpop_challenge(algorithms: Sequence[str], error: str | None = None, description: str | None = None) -> str:
    """``DPoP`` ``WWW-Authenticate`` challenge (RFC 9449 §7.1), with ``algs``."""
    attributes = []
    if error is not None:
        attributes.append(f"error={_quoted(error)}")
    if description is not None:
        attributes.append(f"error_description={_quoted(description)}")
    attributes.append(f"algs={_quoted(' '.join(algorithms))}")
    return "DPoP " + ", ".join(attributes)


def token_hash(token: str) -> str:
    """RFC 9449 §4.2 ``ath``: base64url (no padding) of the SHA-256 of the access token."""
    return _b64(hashlib.sha256(token.encode("ascii")).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def proof_header(request: Request) -> str | None:
    """The request's ``DPoP`` header; ``None`` without one.

    :raises ProofError: more than one, or one too long to be a proof.
    """
    values = request.headers.get_all("dpop")
    if not values:
        return None
    # A WSGI server joins repeated headers with ", ", which no JWT contains.
    if len(values) > 1 or "," in values[0]:
        raise ProofError("Send one DPoP proof: the request has more than one DPoP header.")
    if len(values[0]) > MAX_PROOF_SIZE:
        raise ProofError(f"The DPoP proof is longer than {MAX_PROOF_SIZE} characters.")
    return values[0].strip()


@attrs.frozen
class Proof:
    """A checked proof: the thumbprint of its key and what is remembered of it (never the proof)."""

    #: RFC 7638 thumbprint (SHA-256, base64url) of the proof's public key.
    jkt: str
    jti: str = attrs.field(repr=False)
    #: ``time.time()`` after which the proof is stale anyway and its ``jti`` may be forgotten.
    stale_at: float


def same_url(sent: str, expected: str) -> bool:
    """Whether ``htu`` names ``expected`` (RFC 9449 §4.3: query and fragment ignored, RFC 3986 §6 normalised)."""
    normalized = _normalized(sent)
    return normalized is not None and normalized == _normalized(expected)


def _normalized(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return scheme, netloc, unquote(parts.path) or "/"


class ProofChecker:
    """RFC 9449 §4.3 for one hub: the algorithms it accepts, how long a proof lives, where ``jti`` go.

    :param algorithms: the ``alg`` values accepted (asymmetric only; checked by the settings).
    :param max_age: seconds a proof is accepted after its ``iat``.
    :param replay: where used proofs are remembered.
    """

    def __init__(self, algorithms: Sequence[str], max_age: int, replay: ReplayCache) -> None:
        self.algorithms = tuple(algorithms)
        self.max_age = max_age
        self.replay = replay

    def check(self, value: str, *, method: str, url: str, access_token: str | None = None,
              now: float | None = None) -> Proof:
        """The proof ``value`` for a ``method`` request to ``url``, checked but not yet used.

        :param access_token: the token the proof comes with at a resource server: its
            ``ath`` must be that token's hash.
        :raises ProofError: any check of RFC 9449 §4.3 fails.
        """
        claims, key = self._verified(value)
        if not isinstance(claims.get("htm"), str) or claims["htm"] != method:
            raise ProofError(f"The DPoP proof is not for this request: its 'htm' must be {method}.")
        if not isinstance(claims.get("htu"), str) or not same_url(claims["htu"], url):
            raise ProofError("The DPoP proof is not for this request: its 'htu' must be the URL requested.")
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or isinstance(iat, bool) or not math.isfinite(iat):
            raise ProofError("The DPoP proof has no valid 'iat' claim.")
        moment = time.time() if now is None else now
        if iat < moment - self.max_age:
            raise ProofError("The DPoP proof is too old: make a new one for each request.")
        if iat > moment + CLOCK_LEEWAY:
            raise ProofError("The DPoP proof's 'iat' is in the future.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise ProofError(f"The DPoP proof needs a 'jti' of 1 to {MAX_JTI_LENGTH} characters.")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str):
                raise ProofError("The DPoP proof has no 'ath' claim: the hash of the access token is required.")
            if not hmac.compare_digest(ath.encode("utf-8", "surrogatepass"), token_hash(access_token).encode()):
                raise ProofError("The DPoP proof's 'ath' is not the hash of this access token.")
        return Proof(key.thumbprint(), jti, max(float(iat), moment) + self.max_age)

    def use(self, proof: Proof) -> None:
        """Remember ``proof`` as used.

        :raises ProofError: it was used before (a replay).
        :raises authhub.StoreUnavailable: the store or Redis cannot be reached (503, fail closed).
        """
        key = hashlib.sha256(f"{proof.jkt}:{proof.jti}".encode("utf-8", "surrogatepass")).hexdigest()
        if not self.replay.first_use(key, proof.stale_at):
            raise ProofError("The DPoP proof was already used: make a new one for each request.")

    def _verified(self, value: str) -> tuple[dict[str, Any], Key]:
        """The proof's claims and public key, its form and signature checked."""
        try:
            compact = jws.extract_compact(value.encode("ascii"), registry=ProofRegistry())
            header = compact.headers()
        except (JoseError, ValueError, UnicodeError):
            raise ProofError("The DPoP proof is not a JWT.") from None
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
            raise ProofError(f"The DPoP proof's 'typ' must be '{PROOF_TYPE}'.")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise ProofError(f"The DPoP proof's 'alg' is not accepted: use one of {', '.join(self.algorithms)}.")
        key = _public_key(header.get("jwk"))
        try:
            verified = jws.deserialize_compact(value, key, registry=ProofRegistry(algorithms=[alg]))
        except (JoseError, ValueError, TypeError):
            raise ProofError("The DPoP proof's signature does not verify with the key in its header.") from None
        try:
            claims = json.loads(verified.payload)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise ProofError("The DPoP proof's claims are not a JSON object.")
        return claims, key


def _public_key(jwk: Any) -> Key:
    """The public key of a proof's ``jwk`` header (RFC 9449 §4.2): asymmetric, public, big enough."""
    if not isinstance(jwk, dict) or jwk.get("kty") not in KEY_TYPES:
        raise ProofError("The DPoP proof's header needs a 'jwk': an EC, RSA or OKP public key.")
    if PRIVATE_MEMBERS & jwk.keys():
        raise ProofError("The DPoP proof's 'jwk' holds a private key: send the public key only.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProofError("The DPoP proof's 'jwk' is not a valid public key.") from None
    if isinstance(key, RSAKey) and _rsa_bits(jwk) < MIN_RSA_BITS:
        raise ProofError(f"The DPoP proof's RSA key must have at least {MIN_RSA_BITS} bits.")
    return key


def _rsa_bits(jwk: dict[str, Any]) -> int:
    modulus = str(jwk.get("n", ""))
    try:
        return len(base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4)).lstrip(b"\0")) * 8
    except ValueError:
        return 0


# -- binding tokens at the token endpoint --------------------------------------------------

#: The thumbprint the tokens being issued are bound to, during one token request.
#: Authlib's token generators are not handed the request, so the token endpoint
#: sets this around its work and the generators and ``save_token`` read it.
_binding: contextvars.ContextVar[str | None] = contextvars.ContextVar("authhub_oauth_dpop_binding", default=None)


@contextlib.contextmanager
def binding(jkt: str | None) -> Iterator[None]:
    """Bind the tokens issued inside the block to the key ``jkt`` (``None``: plain bearer tokens)."""
    reset = _binding.set(jkt)
    try:
        yield
    finally:
        _binding.reset(reset)


def bound_key() -> str | None:
    """The thumbprint the token being issued is bound to (``cnf.jkt``); ``None`` for a bearer token."""
    return _binding.get()


def check_refresh(bound: str | None, *, public_client: bool) -> None:
    """A refresh token of a public client bound to a key is refreshed only with a proof of that key (RFC 9449 §5).

    A confidential client's refresh tokens are bound to its authentication
    instead: it may refresh without a proof (a bearer token then) or with
    another key.

    :raises InvalidDPoPProofError: no proof came with the request.
    :raises authlib.oauth2.rfc6749.InvalidGrantError: the proof is of another key.
    """
    if bound is None or not public_client:
        return
    presented = bound_key()
    if presented is None:
        raise InvalidDPoPProofError("This refresh token is bound to a DPoP key: send a DPoP proof of that key.")
    if not hmac.compare_digest(presented.encode(), bound.encode()):
        raise InvalidGrantError("This refresh token is bound to another DPoP key.")


def token_request_key(checker: ProofChecker | None, issuer: str | None, request: Request) -> str | None:
    """The key a token request's tokens are bound to: its proof's, checked and recorded as used.

    ``None`` for a request without a ``DPoP`` header (bearer tokens, as before) or with
    DPoP off. The proof's ``htu`` must be the token endpoint under the configured
    issuer, never a URL made from the request's ``Host``.

    :raises ProofError: a proof that cannot be accepted (the endpoint answers 400 ``invalid_dpop_proof``).
    """
    if checker is None:
        return None
    value = proof_header(request)
    if value is None:
        return None
    if issuer is None:
        raise ProofError("This authorization server cannot check DPoP proofs: its issuer URL is not configured.")
    proof = checker.check(value, method=request.method, url=f"{issuer}/oauth/token")
    checker.use(proof)
    return proof.jkt


def metadata(checker: ProofChecker | None) -> dict[str, Any]:
    """The DPoP members of the authorization server's metadata (RFC 9449 §5.1); none with DPoP off.

    No ``use_dpop_nonce``: this server issues no nonces (§8).
    """
    return {} if checker is None else {"dpop_signing_alg_values_supported": list(checker.algorithms)}
