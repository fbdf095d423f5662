"""The ``oauth`` section of the configuration (``[tool.authhub.oauth]``, ``AUTHHUB_OAUTH_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport

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
    "logout_url": Setting("/logout", help="Where the consent page's 'Not you? Log out' posts (with next=)."),
    "scope_descriptions": Setting(
        {}, kind=dict,
        help="What each scope lets a client do, as the consent page shows it ({read = \"See your profile\"}); "
             "a scope without one is shown by its name.",
    ),
    # -- resource server: JWT access tokens ----------------------------------------
    "jwt_issuer": Setting(None, nullable=True, help="The 'iss' a JWT access token must carry."),
    "jwt_audience": Setting(None, nullable=True, help="The 'aud' a JWT access token must carry (this API)."),
    "jwks": Setting(None, nullable=True, help="The issuer's JWKS: a file path or an http(s) URL."),
    "jwt_algorithms": Setting(["RS256", "PS256", "ES256", "EdDSA"], kind=list,
                              help="Signature algorithms accepted for JWT access tokens."),
    "jwks_cache_seconds": Setting(300, kind=int, help="How long a fetched JWKS is kept."),
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
        for key in ("jwt_issuer", "jwt_audience", "jwks"):
            if not settings[key]:
                raise ConfigurationError(f"oauth.{key}: required when oauth.token_source is 'jwt'")
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
    for key in ("access_token_lifetime", "refresh_token_lifetime", "code_lifetime"):
        if settings[key] <= 0:
            raise ConfigurationError(f"oauth.{key}: must be a positive number of seconds")
    for key in ("cache_ttl", "cache_size"):
        if settings[key] < 0:
            raise ConfigurationError(f"oauth.{key}: must not be negative (0 turns the cache off)")
