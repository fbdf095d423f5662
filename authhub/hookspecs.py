"""Every hook a plugin can implement.

Each hook is a signature and a reference page; there is no logic here.
A plugin implements any subset of them with ``@authhub.hookimpl``, and each
implementation may accept any subset of the arguments (pluggy passes them
by name), so ``def authenticate(request): ...`` is a complete scheme.

Hooks are grouped by when they run: the hub's own set-up (once per hub),
authentication (per request), the model and storage hooks (at start-up),
and the command-line and server hooks (when ``authhub`` itself runs).

A plugin's per-hub state lives in the object its ``create_scheme`` hook
returns: the hub registers that object with its own plugin manager, so
the object's ``@authhub.hookimpl`` methods are hook implementations of
that hub alone, and the state goes away with the hub (pytest registers
plugin instances the same way). Module-level implementations are for
what does not depend on a hub: declared settings, migrations, models,
commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from authhub.config import Setting
    from authhub.errors import AuthhubError
    from authhub.hub import AuthHub
    from authhub.identity import UserLike
    from authhub.outcome import Outcome
    from authhub.request import Request
    from authhub.routes import Route
    from authhub.users import UserStore

hookspec = pluggy.HookspecMarker("authhub")
hookimpl = pluggy.HookimplMarker("authhub")


# -- the hub's set-up (once per hub) --------------------------------------------


@hookspec
def create_scheme(hub: AuthHub, name: str, settings: Mapping[str, Any]) -> object | None:
    """Return this plugin's object for ``hub``: the scheme with its per-hub state.

    Called once for each plugin that implements it, while ``hub`` is being
    built (after its configuration is read and checked, before its chain
    is resolved). The hub registers the returned object with its own plugin
    manager, so the object's ``@authhub.hookimpl`` methods
    (``authenticate``, ``challenge``, ``auth_headers``, ``serve_routes``,
    ``invalidated``, ...) answer for this hub only. Keep everything that
    belongs to one hub on the object (compiled queries, caches, settings
    turned into values), never in a module.

    The object may subclass :class:`authhub.Scheme` for its defaults: a
    ``position`` in the default chain, an ``openapi()`` description and a
    ``close()`` that :meth:`authhub.AuthHub.close` calls. Raise
    :class:`authhub.ConfigurationError` for a setting that cannot work;
    the hub refuses to start and names it.

    Return ``None`` to register nothing (a plugin with nothing per hub).

    :param hub: the hub being built. Its configuration, store and user
        store are usable; its chain is not resolved yet.
    :param name: the plugin's name in this hub (its entry point's name),
        which is also its scheme's name and its settings section.
    :param settings: this plugin's settings section, defaults filled in,
        read-only.
    """


# -- authentication (every request) -------------------------------------------


@hookspec
def authenticate(request: Request, settings: dict[str, Any], hub: AuthHub) -> tuple[Any, Any] | None:
    """Decide who sent ``request``, if the credentials are of this scheme's kind.

    Called by the chain runner for one scheme at a time, in the configured
    order, the first time the application reads ``request.user`` or
    ``request.auth`` (or when a view asks for authentication with its own
    scheme list). It is never broadcast to every plugin at once: the chain
    must know which scheme answered. The call goes through the hub's plugin
    manager whenever someone can observe it (``AUTHHUB_TRACE_HOOKS=1``, a
    hook wrapper on ``authenticate``); otherwise the chain calls the
    implementation directly, which is the same call minus pluggy's
    bookkeeping (about 1.5 µs a scheme).

    Return ``(user, auth)`` when the request carries credentials of this
    scheme's kind and they are good; ``auth`` is whatever the application
    should see as ``request.auth`` (a token row, ``None``, ...). The chain
    stops and keeps the answer along with the scheme's name.

    Return ``None`` when the request carries *no* credentials of this
    scheme's kind; the next scheme is tried.

    Raise :class:`authhub.AuthenticationFailed` when credentials of this
    scheme's kind are present and wrong (bad password, unknown or revoked
    token, malformed header): the chain stops and the request is refused
    with 401 and the configured schemes' challenges. Raise another
    :class:`authhub.AuthhubError` (``PermissionDenied`` for a CSRF failure,
    ``TooManyRequests`` for a lockout) to refuse with its own status. Any
    other exception is a fault: the request is refused with 500 (503 for
    an unreachable store) and never treated as anonymous.

    The implementation may be a plain function or a coroutine function.
    A plain one runs in a worker thread when the hub authenticates for an
    ASGI application, so it may block on a database.

    Usually a method of the plugin's scheme object (``create_scheme``),
    which already holds its settings and hub; a module-level function
    taking any subset of the arguments works too.

    :param request: the framework-neutral :class:`authhub.Request`.
    :param settings: this scheme's own settings (its section of the
        configuration, defaults filled in), read-only.
    :param hub: the :class:`authhub.AuthHub` running the chain: its store,
        its user store and its other settings.
    """


@hookspec
async def aauthenticate(request: Request, settings: dict[str, Any], hub: AuthHub) -> tuple[Any, Any] | None:
    """The non-blocking form of :func:`authenticate`, for ASGI applications.

    Optional. When a scheme implements it, :meth:`authhub.AuthHub.aauthenticate`
    (the ASGI middleware and the Starlette/FastAPI adapters) awaits it on the
    event loop instead of sending the scheme's plain ``authenticate`` to a
    worker thread. Answer from memory when you can (a cache hit costs no
    thread hop) and send only the blocking rest of the work to a thread
    (``await asyncio.to_thread(...)``) or an async driver. Same answers,
    errors and arguments as :func:`authenticate`; WSGI and the synchronous
    :meth:`authhub.AuthHub.authenticate` never call it.

    :param request: the framework-neutral :class:`authhub.Request`.
    :param settings: this scheme's own settings, read-only.
    :param hub: the :class:`authhub.AuthHub` running the chain.
    """


@hookspec
def challenge(request: Request, settings: dict[str, Any], error: AuthhubError | None) -> str | None:
    """Return this scheme's ``WWW-Authenticate`` challenge, or ``None``.

    Called for each scheme of the request's chain, in chain order, when a
    response is refused with 401 (wrong credentials or authentication
    required). Each challenge becomes its own ``WWW-Authenticate`` header
    line (RFC 9110 §11.6.1). When no scheme of the chain returns one, the
    refusal is 403 instead, as in Django REST framework.

    :param request: the request being refused.
    :param settings: this scheme's own settings.
    :param error: the error that stopped the chain, or ``None`` when no
        credentials were given. A scheme may use it to add attributes to
        its own challenge (``error="invalid_token"``); ``error.scheme``
        names the scheme that raised it.
    """


@hookspec
def authentication_outcome(outcome: Outcome) -> None:
    """Observe every authentication outcome, for audit logs and metrics.

    Called once each time the chain finishes: with the identity when a
    scheme answered or the request is anonymous, with the error when it was
    refused, locked out or a plugin failed. Plugins that check secrets
    outside the chain (the session login form, the OAuth token endpoint)
    report those attempts too, through :meth:`authhub.AuthHub.observe`.
    Its return value is ignored and an exception it raises is logged,
    never shown to the client.

    It runs on the request's path (in the event loop for ASGI): keep it
    fast and hand slow work to a queue.

    :param outcome: an :class:`authhub.Outcome` (kind, scheme, user,
        error, request).
    """


# -- models and storage (start-up) --------------------------------------------


@hookspec(firstresult=True)
def token_model() -> type:  # type: ignore[empty-body]
    """Return the SQLAlchemy model class that token authentication uses.

    A subclass of ``authhub_token.BaseToken``. Called once per hub, when
    the token scheme's object is built (:meth:`authhub.AuthHub.token_model`).
    The token plugin answers with its own ``Token`` model and is marked
    ``trylast``, so an application plugin that returns its own subclass
    takes over. The model provides ``user_id`` (the user's id as text,
    ``str(user.id)``, with no foreign key, so any user store works),
    ``digest`` and ``revoked``.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def user_store(hub: AuthHub) -> UserStore | None:
    """Return the store that looks users up and checks their passwords.

    Called once, when the hub first needs its user store. The core answers
    last with the built-in SQL user table (argon2id hashes); an application
    plugin returns its own object with the :class:`authhub.UserStore`
    methods to authenticate against users it keeps elsewhere.

    Stops at first non-None result.

    :param hub: the hub that asks.
    """


@hookspec
def user_changed(hub: AuthHub, user: UserLike) -> None:
    """Act on a change of a user's password or status made through ``hub``.

    Called once, in the process that made the change, by
    :meth:`authhub.AuthHub.user_changed` (the built-in user store calls it
    after ``set_password``, ``deactivate`` and ``activate``; an
    application's own store calls it the same way). Do here what must
    happen once, such as ending the user's sessions. Cached answers are
    dropped through :func:`invalidated` instead, which every hub sharing
    the store is told about.

    :param hub: the hub the change went through.
    :param user: the user as the user store now returns it.
    """


@hookspec
def invalidated(hub: AuthHub, kind: str, key: str) -> None:
    """Drop cached answers that a change has made wrong.

    Called for every :meth:`authhub.AuthHub.invalidate` announcement:
    ``kind`` says what changed and ``key`` which one, both plain strings
    (``("user", "42")`` after a password change or a deactivation,
    ``("token", "17")`` after a revocation; a plugin names its own kinds).
    It runs on the request path of whichever thread made the change: keep
    it to dropping cache entries. An exception it raises is logged and
    the announcement still reaches the others.

    :param hub: the hub that is told.
    :param kind: what changed: ``"user"`` or a kind a plugin announces.
    :param key: which one, as text (a user's ``str(id)``, a token id).
    """


@hookspec
def scheme_settings() -> dict[str, Setting]:  # type: ignore[empty-body]  # a spec: pluggy never runs its body
    """Declare this plugin's settings: a mapping of key to :class:`authhub.Setting`.

    Called when the hub loads its configuration. The keys become the
    plugin's section (``[tool.authhub.<name>]``, ``AUTHHUB_<NAME>_<KEY>``,
    ``AuthHub(<name>={...})``); an unknown key or a value of the wrong type
    is a :class:`authhub.ConfigurationError` naming where it came from. The
    validated section is what the ``settings`` argument of the other hooks
    holds.
    """


@hookspec
def migration_directory() -> str | None:
    """Return the directory holding this distribution's Alembic revisions.

    Called by ``authhub db upgrade`` and ``authhub serve``. Each
    distribution keeps its own version branch (``branch_labels`` set to its
    scheme name, ``depends_on`` the core revision it builds on) and
    declares its tables on :class:`authhub.Base`.
    """


@hookspec
def auth_headers(hub: AuthHub, user: Any, password: str | None) -> dict[str, str] | None:
    """Make working credentials of this scheme for ``user``, as request headers.

    Called only by the test helpers (``authhub.testing``'s ``auth_headers``
    fixture) for the one scheme a test names, never while serving. The
    token scheme creates a token, the basic scheme encodes the password,
    the session scheme logs the user in and returns its ``Cookie`` (and
    CSRF) headers.

    :param hub: the hub the credentials are for.
    :param user: the user (as the user store returns it).
    :param password: the user's password, for schemes that send it; may be ``None``.
    """


# -- command line and reference server ---------------------------------------


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``authhub`` command line.

    Called once when ``authhub`` starts. Add a group named after the
    plugin (``authhub tokens ...``); decorate a command with
    :func:`authhub.pass_hub` to receive the configured hub (its tables
    brought up to date first).

    :param cli: the top-level ``authhub`` click group.
    """


@hookspec
def serve_routes(hub: AuthHub) -> list[Route] | None:
    """Return routes this plugin adds to the reference server (``authhub serve``).

    Called once when the reference application is built. Each
    :class:`authhub.Route` names a path, its methods and a handler
    taking the :class:`authhub.Request` and returning an
    :class:`authhub.Response`. A path that another plugin or the core
    already serves is a :class:`authhub.ConfigurationError`.

    :param hub: the hub the server runs on.
    """
