"""FastAPI dependencies: an authenticated user, or one with scopes, documented in OpenAPI.

::

    app = FastAPI()
    auth = FastAPIAuth(hub)
    auth.document(app)                      # optional authentication and the refusals in openapi.json
    app.include_router(auth.hub_router())   # the hub's plugin routes: /login, /oauth/token, ...

    @app.get("/me")
    def me(user=Depends(auth.user)): ...

    @app.get("/reports")
    def reports(user=Security(auth.user, scopes=["reports:read"])): ...   # or Depends(auth.requires(...))

    @app.get("/feed")
    def feed(identity=Depends(auth.identity)): ...                          # anonymous allowed

Each scheme of the chain is its own security scheme in the generated
OpenAPI document (``components.securitySchemes``), described by the
scheme itself (:meth:`authhub.Scheme.openapi`: the oauth scheme with its
flows at the hub's ``/oauth/authorize`` and ``/oauth/token``), and each
operation lists them as alternatives, with its required scopes. With
:meth:`FastAPIAuth.document`, an operation on ``auth.identity`` also
lists ``{}`` (no credentials is fine) and protected operations document
their 401 and 403 answers.

The dependency reuses the identity of :class:`authhub.contrib.starlette.AuthhubMiddleware`
when it is installed and runs the chain itself (without blocking the
event loop) otherwise. Refusals are FastAPI's ``HTTPException`` with the
core's status, detail and challenges (several challenges share one
``WWW-Authenticate`` line, as RFC 9110 allows).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Security
from fastapi.openapi.models import APIKey, HTTPBase, OAuth2, OpenIdConnect
from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from authhub.contrib import joined_headers, scopes_of
from authhub.contrib.starlette import hub_routes
from authhub.errors import AuthhubError, NotAuthenticated, PermissionDenied
from authhub.http import error_response
from authhub.hub import AuthHub
from authhub.identity import Identity
from authhub.request import RESPONSE_HEADERS, Request

__all__ = ["ANONYMOUS_SCHEME", "FastAPIAuth", "SchemeSecurity", "openapi_model"]

#: The placeholder security scheme of ``auth.identity``; :meth:`FastAPIAuth.document` turns it into ``{}``.
ANONYMOUS_SCHEME = "authhub_anonymous"

_REFUSAL_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        }
    }
}
_UNAUTHORIZED = {
    "description": "No credentials, or wrong ones: one challenge per scheme of the chain.",
    "headers": {
        "WWW-Authenticate": {
            "description": "The challenges of the chain's schemes, in chain order (RFC 9110 section 11.6.1).",
            "schema": {"type": "string"},
        }
    },
    "content": _REFUSAL_BODY,
}
_FORBIDDEN = {
    "description": "Authenticated, but the credentials lack a scope this operation needs.",
    "content": _REFUSAL_BODY,
}


class SchemeSecurity(SecurityBase):
    """One scheme of the chain as FastAPI sees a security scheme: documentation only.

    Resolving it does nothing; :class:`FastAPIAuth` runs the whole chain.
    """

    def __init__(self, name: str, model: SecuritySchemeModel) -> None:
        self.scheme_name = name
        self.model = model

    def __call__(self) -> None:
        return None


def openapi_model(hub: AuthHub, scheme: str) -> SecuritySchemeModel:
    """How the OpenAPI document describes one scheme: what the scheme says of itself.

    A scheme describes itself with :meth:`authhub.Scheme.openapi`; one that
    does not is shown as an ``Authorization`` header of its own name.
    """
    described = hub.openapi(scheme)
    if described is None:
        return _api_key("header", "Authorization", f"authhub scheme {scheme!r}.")
    return _SECURITY_MODELS.get(described.get("type", ""), SecuritySchemeModel).model_validate(described)


_SECURITY_MODELS: dict[str, type[SecuritySchemeModel]] = {
    "apiKey": APIKey,
    "http": HTTPBase,
    "oauth2": OAuth2,
    "openIdConnect": OpenIdConnect,
}


def _api_key(where: str, name: str, description: str) -> APIKey:
    # "in" is a Python keyword: the model takes it by its alias.
    return APIKey.model_validate({"in": where, "name": name, "description": description})


_ANONYMOUS_PLACEHOLDER = SchemeSecurity(
    ANONYMOUS_SCHEME,
    _api_key("header", "X-Authhub-Anonymous", "Placeholder for 'no credentials': call FastAPIAuth.document(app)."),
)


class FastAPIAuth:
    """FastAPI dependencies on one chain of a hub.

    :param hub: the :class:`AuthHub` whose chain runs.
    :param schemes: a chain of its own (default: the hub's configured chain).
    :param openapi: OpenAPI security scheme models by scheme name, to
        describe a third-party scheme or override the built-in description.
    """

    def __init__(
        self,
        hub: AuthHub,
        *,
        schemes: Sequence[str] | None = None,
        openapi: Mapping[str, SecuritySchemeModel] | None = None,
    ) -> None:
        self.hub = hub
        self.schemes = list(schemes) if schemes is not None else None
        #: The scheme names of the chain, in order.
        self.names = tuple(self.schemes) if self.schemes is not None else hub.schemes
        models = dict(openapi or {})
        self.security = [SchemeSecurity(name, models.get(name) or openapi_model(hub, name)) for name in self.names]
        #: Dependency: the authenticated user (401/403 otherwise); scopes via ``Security(auth.user, scopes=...)``.
        self.user = _UserDependency(self)
        #: Dependency: the request's :class:`authhub.Identity`, anonymous allowed (wrong credentials: 401).
        self.identity = _IdentityDependency(self)

    def requires(self, *scopes: str) -> Callable[..., Any]:
        """Dependency: the authenticated user, who must hold every one of ``scopes`` (403 otherwise)."""

        def user_with_scopes(user: Any = Security(self.user, scopes=list(scopes))) -> Any:  # noqa: B008 - FastAPI idiom
            return user

        return user_with_scopes

    def hub_router(self) -> APIRouter:
        """A router serving the hub's plugin routes (``/login``, ``/oauth/*``, ...): ``app.include_router(...)``.

        Include it without a prefix: the pages link to the paths ``authhub
        serve`` uses, and the oauth scheme's OpenAPI flows point there. The
        routes are not operations of the OpenAPI document.
        """
        router = APIRouter()
        router.routes.extend(hub_routes(self.hub))
        return router

    def document(self, app: FastAPI) -> None:
        """Complete ``app``'s OpenAPI document with what dependencies cannot say.

        Operations on :attr:`identity` list ``{}`` beside the schemes (the
        credentials are optional; Swagger UI still sends them when it has
        them); operations on :attr:`user` document their 401 (with the
        ``WWW-Authenticate`` challenges) and 403 answers, and optional ones
        their 401 for wrong credentials. Wraps ``app.openapi``, so it
        composes with an application's own ``app.openapi`` function.
        """
        generate = app.openapi
        names = set(self.names)

        def openapi() -> dict[str, Any]:
            document = generate()
            _complete(document, names)
            return document

        app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document

    async def _identity(self, request: StarletteRequest) -> Identity:
        scope = request.scope
        if scope.get("authhub.chain") == (self.hub, self.names):
            found: Identity = scope["authhub.identity"]  # AuthhubMiddleware ran the same chain
            return found
        known: dict[Any, Identity] = scope.setdefault("authhub.identities", {})
        key = (self.hub, self.names)
        if key not in known:
            converted = _authhub_request(request, self.hub)
            known[key] = await self.hub.aauthenticate(converted, self.schemes)
        return known[key]

    def _refusal(self, request: StarletteRequest, error: AuthhubError) -> HTTPException:
        response = error_response(self.hub, _authhub_request(request, self.hub), error, self.schemes)
        return HTTPException(response.status, detail=error.detail, headers=joined_headers(response.headers))


def _complete(document: dict[str, Any], names: set[str]) -> None:
    """Turn the placeholder into ``{}`` and add the refusals, on the operations of the schemes ``names``."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            security: list[dict[str, list[str]]] = operation["security"]
            used = {name for requirement in security for name in requirement}
            if not used & names:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", copy.deepcopy(_UNAUTHORIZED))
            if ANONYMOUS_SCHEME in used:
                security[:] = [requirement for requirement in security if ANONYMOUS_SCHEME not in requirement]
                if {} not in security:
                    security.append({})
            else:
                responses.setdefault("403", copy.deepcopy(_FORBIDDEN))
    schemes = document.get("components", {}).get("securitySchemes", {})
    schemes.pop(ANONYMOUS_SCHEME, None)


def _authhub_request(request: StarletteRequest, hub: AuthHub) -> Request:
    """The :class:`authhub.Request` of this connection, built once."""
    converted = request.scope.get("authhub.request")
    if not isinstance(converted, Request) or converted.hub is not hub:
        converted = Request.from_asgi(request.scope, hub)
        request.scope["authhub.request"] = converted
    return converted


def _add_scheme_headers(request: StarletteRequest, response: StarletteResponse) -> None:
    """Add the header lines the chain queued, when no middleware will (taken off, so added once)."""
    converted = request.scope.get("authhub.request")
    if isinstance(converted, Request) and "authhub.identity" not in request.scope:
        for name, value in converted.state.pop(RESPONSE_HEADERS, None) or ():
            response.headers.append(name, value)


def _signature(auth: FastAPIAuth, *, scopes: bool, optional: bool) -> inspect.Signature:
    """The parameters FastAPI reads of a dependency: what it needs, and one ``Security()`` per scheme.

    One ``Security()`` parameter per scheme makes each scheme an alternative
    in the operation's OpenAPI ``security`` list, with the route's scopes.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("request", keyword, annotation=StarletteRequest),
        inspect.Parameter("response", keyword, annotation=StarletteResponse),
    ]
    if scopes:
        parameters.append(inspect.Parameter("security_scopes", keyword, annotation=SecurityScopes))
    security = [*auth.security, _ANONYMOUS_PLACEHOLDER] if optional else auth.security
    parameters.extend(
        inspect.Parameter(f"authhub_scheme_{index}", keyword, default=Security(scheme))
        for index, scheme in enumerate(security)
    )
    return inspect.Signature(parameters)


class _UserDependency:
    """``auth.user``: the authenticated user holding the scopes the route asks for."""

    def __init__(self, auth: FastAPIAuth) -> None:
        self._auth = auth
        self.__signature__ = _signature(auth, scopes=True, optional=False)

    async def __call__(
        self,
        *,
        request: StarletteRequest,
        response: StarletteResponse,
        security_scopes: SecurityScopes,
        **documentation_only: None,
    ) -> Any:
        auth = self._auth
        try:
            identity = await auth._identity(request)
            if not identity.is_authenticated:
                raise NotAuthenticated()
            missing = sorted(set(security_scopes.scopes) - scopes_of(identity.auth))
            if missing:
                raise PermissionDenied(f"This request needs the scope(s): {' '.join(missing)}.")
        except AuthhubError as error:
            raise auth._refusal(request, error) from None
        _add_scheme_headers(request, response)
        return identity.user


class _IdentityDependency:
    """``auth.identity``: the request's identity, anonymous allowed; wrong credentials are still refused."""

    def __init__(self, auth: FastAPIAuth) -> None:
        self._auth = auth
        self.__signature__ = _signature(auth, scopes=False, optional=True)

    async def __call__(
        self, *, request: StarletteRequest, response: StarletteResponse, **documentation_only: None
    ) -> Identity:
        auth = self._auth
        try:
            identity = await auth._identity(request)
        except AuthhubError as error:
            raise auth._refusal(request, error) from None
        _add_scheme_headers(request, response)
        return identity
