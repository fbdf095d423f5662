"""The authorization server's endpoints on ``authhub serve`` (added through ``serve_routes``).

``POST /oauth/token`` (RFC 6749), ``GET/POST /oauth/authorize`` with a
consent page, ``POST /oauth/revoke`` (RFC 7009), ``POST /oauth/introspect``
(RFC 7662) and ``GET /.well-known/oauth-authorization-server`` (RFC 8414).
Each handler takes the hub's :class:`~authhub_oauth.server.OAuthServer`
first: :func:`routes` binds them to the scheme's own server.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from urllib.parse import parse_qsl, quote

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from authhub import AuthenticationFailed, Outcome, PermissionDenied, Request, Response, Route, TooManyRequests
from authhub_oauth import dpop
from authhub_oauth.adapter import OAuthRequest, basic_client_credentials
from authhub_oauth.consent import consent_page
from authhub_oauth.openid import openid_metadata, refuse_silent_consent
from authhub_oauth.server import OAuthServer

#: The consent form's field that ties it to the authorization request it was shown for.
CONSENT_BINDING = "consent_binding"

#: The redirects around the consent page (to the login page, back to the client): never cached or
#: framed. The page itself has ``hub.pages``' headers; its referrer stays on the site, as here: with
#: ``no-referrer`` Chromium posted the consent with ``Origin: null``, which the session's CSRF check
#: refuses (issue 16), while ``same-origin`` still tells another site nothing.
PAGE_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def routes(server: OAuthServer) -> list[Route]:
    """The endpoints of ``server``, each handler bound to it."""
    return [
        Route("/oauth/token", functools.partial(token, server), ("POST",)),
        Route("/oauth/authorize", functools.partial(authorize, server), ("GET", "POST")),
        Route("/oauth/revoke", functools.partial(revoke, server), ("POST",)),
        Route("/oauth/introspect", functools.partial(introspect, server), ("POST",)),
        Route("/.well-known/oauth-authorization-server", functools.partial(metadata, server), ("GET", "HEAD")),
    ]


def _oauth_request(server: OAuthServer, request: Request, *, from_query: bool) -> OAuthRequest | Response:
    try:
        return OAuthRequest(request, from_query=from_query)
    except OAuth2Error as error:  # a body that is not UTF-8, plain http to a public host
        response: Response = server.handle_error_response(None, error)
        return response


# -- token, revocation, introspection -------------------------------------------------------


def token(server: OAuthServer, request: Request) -> Response:
    oauth_request = _oauth_request(server, request, from_query=False)
    if isinstance(oauth_request, Response):
        return oauth_request
    try:  # RFC 9449 §5: a DPoP proof binds the tokens issued to its key
        jkt = dpop.token_request_key(server.dpop_proofs, server.issuer(), request)
    except dpop.ProofError as error:
        refused: Response = server.handle_error_response(oauth_request, dpop.InvalidDPoPProofError(str(error)))
        return refused
    with dpop.binding(jkt):
        return _client_lockout(server, request, oauth_request, lambda: server.create_token_response(oauth_request))


def revoke(server: OAuthServer, request: Request) -> Response:
    return _endpoint(server, request, "revocation")


def introspect(server: OAuthServer, request: Request) -> Response:
    return _endpoint(server, request, "introspection")


def _endpoint(server: OAuthServer, request: Request, name: str) -> Response:
    oauth_request = _oauth_request(server, request, from_query=False)
    if isinstance(oauth_request, Response):
        return oauth_request
    response = _client_lockout(server, request, oauth_request,
                               lambda: server.create_endpoint_response(name, oauth_request))
    assert response is not None
    return response


def _client_lockout(server: OAuthServer, request: Request, oauth_request: OAuthRequest,
                    respond: Callable[[], Response]) -> Response:
    """Run an endpoint that authenticates the client under the hub's lockout (``client:<id>``).

    Every client id the request names (Basic credentials, each ``client_id``
    field) is a subject; a malformed ``Basic`` header is ``invalid_client``
    under the subject ``client:``. A 401 (``invalid_client``) counts as a
    failed attempt against each; once one of them or the address is locked
    the answer is 429 with ``Retry-After``. Two client-authentication
    methods at once are refused (RFC 6749 §2.3) before any secret is checked.
    """
    hub = server.hub
    basic: tuple[str, str] | None = None
    malformed: OAuth2Error | None = None
    try:
        basic = basic_client_credentials(request)
    except OAuth2Error as error:
        malformed = error
    form = oauth_request.payload.datalist
    named = [*([basic[0]] if basic is not None else []), *form.get("client_id", [])]
    subjects = [f"client:{client_id}" for client_id in dict.fromkeys(named)]
    if malformed is not None:
        subjects.insert(0, "client:")
    for subject in subjects:
        try:
            hub.lockout.check(request, subject)
        except TooManyRequests as error:
            hub.observe(Outcome("locked", request, "oauth", None, error))
            raise
    response: Response
    if malformed is not None:
        response = server.handle_error_response(oauth_request, malformed)
    elif basic is not None and ("client_secret" in form or set(form.get("client_id", [])) - {basic[0]}):
        # RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
        response = server.handle_error_response(oauth_request, InvalidRequestError(
            "Use one client authentication method: Basic credentials or client_id/client_secret in the body."))
        return response
    elif len(form.get("client_id", [])) > 1 or len(form.get("client_secret", [])) > 1:
        response = server.handle_error_response(oauth_request, InvalidRequestError(
            "The client_id and client_secret parameters may be sent once each."))
        return response
    else:
        response = respond()
    if response.status == 401:
        for subject in subjects:
            hub.lockout.failed(request, subject)
        if subjects:
            hub.observe(Outcome("refused", request, "oauth", None,
                                AuthenticationFailed("Invalid client credentials.")))
    elif response.status < 400:
        for subject in subjects:
            hub.lockout.succeeded(request, subject)
    return response


# -- authorization endpoint and consent ---------------------------------------------------------


def authorize(server: OAuthServer, request: Request) -> Response:
    """Check the authorization request, then ask the logged-in user for consent.

    An unknown client or a redirect URI that is not registered gets a plain
    400: the user agent is never sent to an unverified address. Other
    errors go back to the client's redirect URI, as RFC 6749 §4.1.2.1 says.
    """
    oauth_request = _oauth_request(server, request, from_query=True)
    if isinstance(oauth_request, Response):
        return oauth_request
    identity = request.identity
    signed_in = identity.is_authenticated and identity.scheme in server.settings["consent_schemes"]
    try:
        # The user goes in for OpenID Connect's prompt=none: login_required without one (OIDC Core §3.1.2.6).
        grant = server.get_consent_grant(oauth_request, end_user=identity.user if signed_in else None)
        refuse_silent_consent(grant)
    except OAuth2Error as error:
        refused: Response = server.handle_error_response(oauth_request, error)
        return refused

    if not signed_in:
        target = request.path + (f"?{request.query_string}" if request.query_string else "")
        return Response.redirect(f"{server.settings['login_url']}?next={quote(target, safe='')}", 303,
                                 PAGE_HEADERS)
    if request.method == "GET":
        return consent_page(server, request, grant, csrf_token=_session_csrf_token(request),
                            binding_field=CONSENT_BINDING, binding=_consent_binding(request))
    binding = _consent_binding(request)
    sent = request.form().get(CONSENT_BINDING, "").encode("utf-8", "surrogatepass")
    if binding is not None and not hmac.compare_digest(sent, binding.encode()):
        raise PermissionDenied("This consent form was shown for another authorization request: "
                               "open the authorization link again.")
    decision = request.form().get("decision")
    granted = identity.user if decision == "allow" else None
    response: Response = server.create_authorization_response(oauth_request, grant_user=granted, grant=grant)
    response.headers.extend(PAGE_HEADERS)
    return response


def _session_csrf_token(request: Request) -> str | None:
    """The session scheme's CSRF token for the consent form, when that scheme is installed."""
    try:
        from authhub_session import csrf_token
    except ImportError:
        return None
    token: str | None = csrf_token(request)
    return token


def _consent_binding(request: Request) -> str | None:
    """An HMAC of the authorization request (every query parameter) keyed by the session.

    The key is the digest of the session id, which only the server and the
    session cookie know: a consent form approves the request it was shown
    for, and a CSRF token alone cannot approve another scope, client or
    redirect URI. ``None`` when no session authenticated the request.
    """
    try:
        from authhub_session import current_session
    except ImportError:
        return None
    session = current_session(request)
    if session is None:
        return None
    parameters = json.dumps(sorted(parse_qsl(request.query_string, keep_blank_values=True)))
    return hmac.new(session.digest.encode(), parameters.encode(), hashlib.sha256).hexdigest()


# -- metadata ------------------------------------------------------------------------------


def metadata(server: OAuthServer, request: Request) -> Response:
    """RFC 8414 authorization server metadata."""
    issuer = server.issuer()
    if issuer is None:
        # Never the Host header: a forged Host would be served to every client of a shared cache.
        return Response.json({"detail": "The authorization server's metadata needs its issuer: set oauth.issuer "
                                        "(AUTHHUB_OAUTH_ISSUER)."}, 404, [("Cache-Control", "no-store")])
    pkce_methods = ["S256", "plain"] if server.settings["allow_plain_pkce"] else ["S256"]
    document = AuthorizationServerMetadata({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": pkce_methods,
        **dpop.metadata(server.dpop_proofs),
        **openid_metadata(issuer),  # OpenID Connect Discovery 1.0: the same document
    })
    return Response.json(dict(document), headers=[("Cache-Control", "public, max-age=3600")])
