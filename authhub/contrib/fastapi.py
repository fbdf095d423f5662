"""FastAPI dependencies: an authenticated user, or one with scopes, documented in OpenAPI.

::

    auth = FastAPIAuth(hub)

    @app.get("/me")
    def me(user=Depends(auth.user)): ...

    @app.get("/reports")
    def reports(user=Security(auth.user, scopes=["reports:read"])): ...   # or Depends(auth.requires(...))

Each scheme of the chain is its own security scheme in the generated
OpenAPI document (``components.securitySchemes``), and each protected
operation lists them as alternatives, with its required scopes. The
dependency reuses the identity of :class:`authhub.contrib.starlette.AuthhubMiddleware`
when it is installed and runs the chain itself (without blocking the
event loop) otherwise. Refusals are FastAPI's ``HTTPException`` with the
core's status, detail and challenges (several challenges share one
``WWW-Authenticate`` line, as RFC 9110 allows).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import HTTPException, Security
from fastapi.openapi.models import APIKey, HTTPBase, OAuth2, OpenIdConnect
from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from authhub.contrib import joined_headers, scopes_of
from authhub.errors import AuthhubError, NotAuthenticated, PermissionDenied
from authhub.http import error_response
from authhub.hub import AuthHub
from authhub.identity import Identity
from authhub.request import RESPONSE_HEADERS, Request

__all__ = ["FastAPIAuth", "SchemeSecurity", "openapi_model"]


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

    async def identity(self, request: StarletteRequest) -> Identity:
        """Dependency: the request's :class:`authhub.Identity`, anonymous allowed.

        Wrong credentials are still refused (401); use it for views that
        serve both anonymous and authenticated users.
        """
        try:
            return await self._identity(request)
        except AuthhubError as error:
            raise self._refusal(request, error) from None

    def requires(self, *scopes: str) -> Callable[..., Any]:
        """Dependency: the authenticated user, who must hold every one of ``scopes`` (403 otherwise)."""

        def user_with_scopes(user: Any = Security(self.user, scopes=list(scopes))) -> Any:  # noqa: B008 - FastAPI idiom
            return user

        return user_with_scopes

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


def _authhub_request(request: StarletteRequest, hub: AuthHub) -> Request:
    """The :class:`authhub.Request` of this connection, built once."""
    converted = request.scope.get("authhub.request")
    if not isinstance(converted, Request) or converted.hub is not hub:
        converted = Request.from_asgi(request.scope, hub)
        request.scope["authhub.request"] = converted
    return converted


class _UserDependency:
    """``auth.user``: the authenticated user holding the scopes the route asks for."""

    def __init__(self, auth: FastAPIAuth) -> None:
        self._auth = auth
        keyword = inspect.Parameter.KEYWORD_ONLY
        parameters = [
            inspect.Parameter("request", keyword, annotation=StarletteRequest),
            inspect.Parameter("response", keyword, annotation=StarletteResponse),
            inspect.Parameter("security_scopes", keyword, annotation=SecurityScopes),
        ]
        # FastAPI reads a dependency's parameters from its signature. One
        # Security() parameter per scheme makes each scheme an alternative
        # in the operation's OpenAPI "security" list, with the route's scopes.
        parameters.extend(
            inspect.Parameter(f"authhub_scheme_{index}", keyword, default=Security(security))
            for index, security in enumerate(auth.security)
        )
        self.__signature__ = inspect.Signature(parameters)

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
        converted = request.scope.get("authhub.request")
        if isinstance(converted, Request) and "authhub.identity" not in request.scope:
            # Without the middleware nobody else adds what the scheme asked for.
            for name, value in converted.state.get(RESPONSE_HEADERS, ()):
                response.headers.append(name, value)
        return identity.user
