"""The ``oauth`` section of the configuration (``[tool.authhub.oauth]``, ``AUTHHUB_OAUTH_*``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from joserfc.jws import JWSRegistry

from authhub import ConfigurationError, Setting

TOKEN_SOURCES = ("opaque", "jwt", "introspection")

SETTINGS: dict[str, Setting] = {
    "realm": Setting("authhub", help="The realm named in WWW-Authenticate: Bearer challenges."),
    "token_source": Setting(
        "opaque",
        help="Where bearer tokens are checked: 'opaque' (issued by this server), 'jwt' (RFC 9068, "
             "from an external issuer) or 'introspection' (RFC 7662, asked of a remote server).",
    ),
    # -- authorization server ----------------------------------------------------
    "issuer": Setting(None, nullable=True,
                      help="This authorization server's issuer URL (https, no query or fragment); the metadata "
                           "document is served only when it is set, and never takes it from the Host header."),
    "access_token_lifetime": Setting(3600, kind=int, help="Seconds an access token lives."),
    "refresh_token_lifetime": Setting(14 * 24 * 3600, kind=int, help="Seconds a refresh token lives."),
    "code_lifetime": Setting(300, kind=int, help="Seconds an authorization code can be redeemed."),
    "allow_plain_pkce": Setting(False, kind=bool,
                                help="Accept code_challenge_method=plain (refused by default: S256 only)."),
    "consent_schemes": Setting(["session"], kind=list,
                               help="Schemes whose logged-in user may approve a consent page."),
    "login_url": Setting("/login", help="Where /oauth/authorize sends an anonymous user (with ?next=)."),
    # -- authorization server: signed tokens (JWT access tokens, OpenID Connect ID tokens) ----
    "access_token_format": Setting(
        "opaque",
        help="What /oauth/token issues: 'opaque' (random, checked against the store) or 'jwt' (RFC 9068, "
             "signed with this server's current key, so other services can verify it; needs oauth.issuer).",
    ),
    "access_token_audience": Setting(None, nullable=True,
                                     help="The 'aud' of JWT access tokens (default: oauth.issuer)."),
    "access_token_signing_alg": Setting("RS256", help="How JWT access tokens are signed: 'RS256' or 'ES256'."),
    "id_token_lifetime": Setting(3600, kind=int, help="Seconds an OpenID Connect ID token lives."),
    "key_encryption_key": Setting(
        None, nullable=True,
        help="Encrypts the private signing keys in the store (A256GCM): 32 random bytes, base64url-encoded. "
             "Unset, the keys are stored in the clear and the database is as sensitive as the keys.",
    ),
    "logout_url": Setting("/logout", help="Where the consent page's 'Not you? Log out' posts (with next=)."),
    "scope_descriptions": Setting(
        {}, kind=dict,
        help="What each scope lets a client do, as the consent page shows it ({read = \"See your profile\"}); "
             "a scope without one is shown by its name.",
    ),
    # -- resource server: JWT access tokens ----------------------------------------
    "jwt_issuer": Setting(None, nullable=True, help="The 'iss' a JWT access token must carry."),
    "jwt_audience": Setting(None, nullable=True, help="The 'aud' a JWT access token must carry (this API)."),
    "jwks": Setting(None, nullable=True,
                    help="The issuer's JWKS: a file path or an http(s) URL; unset: found through the issuer's "
                         "/.well-known/openid-configuration or /.well-known/oauth-authorization-server."),
    "jwt_algorithms": Setting(["RS256", "PS256", "ES256", "EdDSA"], kind=list,
                              help="Signature algorithms accepted for JWT access tokens."),
    "jwks_cache_seconds": Setting(300, kind=int, help="How long a fetched JWKS is kept."),
    "jwks_min_refresh_seconds": Setting(
        5.0, kind=float,
        help="At least this many seconds between two fetches of the issuer's keys (a token naming an unknown "
             "'kid' asks for one), so a flood of made-up key ids never makes this server hammer the issuer.",
    ),
    # -- resource server: introspection ---------------------------------------------
    "introspection_url": Setting(None, nullable=True, help="The RFC 7662 endpoint to ask about tokens."),
    "introspection_client_id": Setting(None, nullable=True, help="Client id this API authenticates with."),
    "introspection_client_secret": Setting(None, nullable=True, help="Client secret this API authenticates with."),
    "introspection_cache_seconds": Setting(30, kind=int, help="How long an introspection answer is kept."),
    "introspection_cache_size": Setting(1024, kind=int, help="How many introspection answers are kept at most."),
    "http_timeout": Setting(5.0, kind=float, help="Seconds to wait for the JWKS URL or the introspection endpoint."),
    # -- resource server: the cache of verified opaque tokens and JWTs ----------------
    "cache_ttl": Setting(
        60.0, kind=float,
        help="Keep verified access tokens (opaque and JWT) in memory at most this many seconds (0 = off). A "
             "revocation reaches every process through the invalidation channel at once; this is the safety net.",
    ),
    "cache_size": Setting(10_000, kind=int, help="Most access tokens the in-memory cache holds (0 = off)."),
    # -- DPoP (RFC 9449): sender-constrained tokens ---------------------------------
    "dpop": Setting(True, kind=bool,
                    help="Bind tokens to the key of a DPoP proof sent to the token endpoint, and accept "
                         "'Authorization: DPoP' with a proof at the resource server (RFC 9449)."),
    "dpop_algorithms": Setting(["ES256", "ES384", "PS256", "RS256", "Ed25519"], kind=list,
                               help="Signature algorithms accepted for DPoP proofs (asymmetric only)."),
    "dpop_proof_max_age": Setting(60, kind=int,
                                  help="Seconds a DPoP proof is accepted after its 'iat'; its 'jti' is "
                                       "remembered that long, so a proof is used once."),
    "dpop_replay_redis_url": Setting(None, nullable=True,
                                     help="Remember the 'jti' of used DPoP proofs in this Redis (SET NX EX) "
                                          "instead of the database table oauth_dpop_proof."),
    "resource_url": Setting(None, nullable=True,
                            help="This API's public origin (https://api.example.com) that a DPoP proof's 'htu' "
                                 "must name; unset: the issuer's origin when it is set, else the request's own."),
}

#: Algorithms never accepted, whatever ``jwt_algorithms`` says: no signature at
#: all, or a shared secret that a public JWKS key could be mistaken for.
REFUSED_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})


def check(settings: Mapping[str, Any]) -> None:
    """Refuse a section that cannot work, naming the setting."""
    source = settings["token_source"]
    if source not in TOKEN_SOURCES:
        raise ConfigurationError(f"oauth.token_source: expected one of {', '.join(TOKEN_SOURCES)}, got {source!r}")
    if source == "jwt":
        for key in ("jwt_issuer", "jwt_audience"):
            if not settings[key]:
                raise ConfigurationError(f"oauth.{key}: required when oauth.token_source is 'jwt'")
        if not settings["jwks"]:
            _check_discoverable(str(settings["jwt_issuer"]))
        if settings["jwks_min_refresh_seconds"] < 0:
            raise ConfigurationError("oauth.jwks_min_refresh_seconds: must not be negative")
        refused = sorted(set(settings["jwt_algorithms"]) & REFUSED_ALGORITHMS)
        if refused:
            raise ConfigurationError(f"oauth.jwt_algorithms: {', '.join(refused)} may not be accepted")
        if not settings["jwt_algorithms"]:
            raise ConfigurationError("oauth.jwt_algorithms: at least one algorithm is required")
    if source == "introspection":
        for key in ("introspection_url", "introspection_client_id", "introspection_client_secret"):
            if not settings[key]:
                raise ConfigurationError(f"oauth.{key}: required when oauth.token_source is 'introspection'")
    for key in ("jwks", "introspection_url"):
        location = settings[key]
        if location and location.startswith("http:") and not is_secure_transport(location):
            # Keys or token answers over plain http could be swapped on the way.
            raise ConfigurationError(f"oauth.{key}: {location!r} must use https (plain http only to localhost)")
    issuer = settings["issuer"]
    if issuer is not None:
        parts = urlsplit(str(issuer))
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment or (
                parts.scheme == "http" and not is_secure_transport(str(issuer))):
            # RFC 8414 §2: an https URL with no query or fragment (plain http only to localhost).
            raise ConfigurationError(f"oauth.issuer: {issuer!r} must be an https URL without query or fragment")
    check_signing(settings)
    for key in ("access_token_lifetime", "refresh_token_lifetime", "code_lifetime", "id_token_lifetime"):
        if settings[key] <= 0:
            raise ConfigurationError(f"oauth.{key}: must be a positive number of seconds")
    for key in ("cache_ttl", "cache_size"):
        if settings[key] < 0:
            raise ConfigurationError(f"oauth.{key}: must not be negative (0 turns the cache off)")
    _check_dpop(settings)


def _check_discoverable(issuer: str) -> None:
    """An issuer whose keys are found through its metadata: an https URL (plain http only to loopback)."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment or (
            not is_secure_transport(issuer)):
        # The keys would come over a connection anyone on the way could change.
        raise ConfigurationError(
            f"oauth.jwt_issuer: {issuer!r} must be an https URL without query or fragment to find its keys "
            "(plain http only to localhost), or set oauth.jwks")


def _check_dpop(settings: Mapping[str, Any]) -> None:
    algorithms = settings["dpop_algorithms"]
    refused = sorted(set(algorithms) & REFUSED_ALGORITHMS)
    if refused:
        raise ConfigurationError(f"oauth.dpop_algorithms: {', '.join(refused)} may not be accepted "
                                 "(a DPoP proof is signed with a private key)")
    unknown = sorted(set(algorithms) - set(JWSRegistry.algorithms))
    if unknown:
        raise ConfigurationError(f"oauth.dpop_algorithms: unknown algorithm {', '.join(unknown)}")
    if settings["dpop"] and not algorithms:
        raise ConfigurationError("oauth.dpop_algorithms: at least one algorithm is required while oauth.dpop is on")
    if settings["dpop_proof_max_age"] <= 0:
        raise ConfigurationError("oauth.dpop_proof_max_age: must be a positive number of seconds")
    resource_url = settings["resource_url"]
    if resource_url is not None:
        parts = urlsplit(str(resource_url))
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/") or (
                parts.query or parts.fragment):
            raise ConfigurationError(f"oauth.resource_url: {resource_url!r} must be an origin such as "
                                     "https://api.example.com (no path, query or fragment)")


#: What ``access_token_format`` may say.
ACCESS_TOKEN_FORMATS = ("opaque", "jwt")
#: The algorithms this server signs with (RFC 7518): RSA PKCS#1 v1.5 with SHA-256, ECDSA P-256 with SHA-256.
SIGNING_ALGORITHMS = ("RS256", "ES256")


def check_signing(settings: Mapping[str, Any]) -> None:
    """Refuse signed-token settings that cannot work; the key-encryption key is never repeated."""
    issued = settings["access_token_format"]
    if issued not in ACCESS_TOKEN_FORMATS:
        raise ConfigurationError(
            f"oauth.access_token_format: expected one of {', '.join(ACCESS_TOKEN_FORMATS)}, got {issued!r}")
    if issued == "jwt" and not settings["issuer"]:
        raise ConfigurationError("oauth.issuer: required when oauth.access_token_format is 'jwt' "
                                 "(it is the tokens' 'iss')")
    alg = settings["access_token_signing_alg"]
    if alg not in SIGNING_ALGORITHMS:
        raise ConfigurationError(
            f"oauth.access_token_signing_alg: expected one of {', '.join(SIGNING_ALGORITHMS)}, got {alg!r}")
    if settings["access_token_audience"] is not None and not str(settings["access_token_audience"]).strip():
        raise ConfigurationError("oauth.access_token_audience: must not be blank")
    kek = settings["key_encryption_key"]
    if kek is not None:
        try:
            raw = base64.urlsafe_b64decode(kek + "=" * (-len(kek) % 4))
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ConfigurationError("oauth.key_encryption_key: must be 32 random bytes, base64url-encoded "
                                     "(python -c \"import secrets; print(secrets.token_urlsafe(32))\")")
