"""``AuthHub``: one configuration, one plugin manager, one store, one object per scheme.

Nothing here is global: two hubs with different chains live side by side
in one process, each with its own scheme objects.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from authhub import builtins
from authhub import plugins as discovery
from authhub.chain import Chain, Link
from authhub.changes import Changes, DatabaseLog, RedisLog
from authhub.config import Settings, current_environ, load_settings
from authhub.errors import AuthhubError, ConfigurationError
from authhub.identity import Identity
from authhub.lockout import Lockout
from authhub.outcome import Outcome
from authhub.pages import Pages
from authhub.plugins import Hooks, PluginInfo, new_manager, register
from authhub.request import Request
from authhub.scheme import DEFAULT_POSITION
from authhub.store import Store

if TYPE_CHECKING:
    from authhub.routes import Route

log = logging.getLogger("authhub")

SchemeT = TypeVar("SchemeT")


class AuthHub:
    """The object an application embeds.

    ``AuthHub()`` reads the configuration (keyword arguments, then
    ``AUTHHUB_*`` variables, ``authhub.toml``, ``[tool.authhub]``), loads the
    installed plugins, asks each for its per-hub object (``create_scheme``)
    and resolves the chain; it raises :class:`ConfigurationError` naming
    what is wrong otherwise. A hub does not change once built: a different
    configuration is a new hub. :meth:`close` releases its connections,
    and a hub nobody refers to any more is garbage-collected.

    :param directory: where to look for ``authhub.toml`` / ``pyproject.toml``
        (default: the working directory).
    :param environ: the environment to read (default: ``os.environ``).
    :param load_entry_points: load installed plugins (default ``True``).
    :param plugins: more plugins to register, ``{name: plugin}``, after the
        installed ones.
    :param check_chain: refuse a plugin that is missing or broken (``False``
        only for tools that report on a broken installation).
    :param settings: core settings and plugin sections (``basic={...}``).
    """

    def __init__(
        self,
        *,
        directory: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        load_entry_points: bool = True,
        plugins: Mapping[str, Any] | None = None,
        check_chain: bool = True,
        **settings: Any,
    ) -> None:
        directory = Path(directory) if directory is not None else Path.cwd()
        environ = environ if environ is not None else current_environ()
        self.pm = new_manager()
        self.hooks = Hooks(self.pm)
        register(self.pm, builtins, "authhub.builtins")
        infos: list[PluginInfo] = []
        if load_entry_points:
            infos.extend(discovery.load_entry_points(self.pm, environ))
        for name, plugin in (plugins or {}).items():
            infos.append(PluginInfo(name, None, None, register(self.pm, plugin, name)))
        #: Hook calls are traced to stderr (``AUTHHUB_TRACE_HOOKS=1``).
        self.tracing = bool(environ.get("AUTHHUB_TRACE_HOOKS"))
        if self.tracing:
            self.pm.trace.root.setwriter(lambda message: sys.stderr.write(f"authhub: {message}"))
            self.pm.enable_tracing()
        self.settings: Settings = load_settings(
            self.hooks.scheme_settings(), overrides=settings, environ=environ, directory=directory
        )
        self.trusted_proxies = tuple(_network(text) for text in self.settings["trusted_proxies"])
        #: The HTML pages of the plugins (login, consent, tokens), with the application's templates first.
        self.pages = Pages(self.settings["templates_dir"], directory)
        self._anonymous_user = _dotted("unauthenticated_user", self.settings["unauthenticated_user"])
        self._anonymous_auth = _dotted("unauthenticated_token", self.settings["unauthenticated_token"])
        self._store: Store | None = None
        self._changes: Changes | None = None
        self._users: Any = None
        self._lockout: Lockout | None = None
        #: Each plugin's members in the plugin manager: its module, then its per-hub object.
        self._members: dict[str, list[object]] = {}
        self._objects: dict[str, object] = {}
        self._infos = [self._create_object(info, check_chain) for info in infos]
        self.schemes: tuple[str, ...] = tuple(self._resolve(self.settings["schemes"], check_chain))
        self._chains: dict[tuple[str, ...] | None, Chain] = {}
        self._default_chain = self._build_chain(self.schemes)

    # -- plugins -------------------------------------------------------------------

    def _create_object(self, info: PluginInfo, check_chain: bool) -> PluginInfo:
        """Register ``info``'s per-hub object, if its plugin makes one; the info with its hooks."""
        if info.error is not None:
            return info
        plugin = self.pm.get_plugin(info.name)
        self._members[info.name] = [plugin]
        try:
            scheme = self.hooks.create_scheme(plugin, self, info.name, self.settings.section(info.name))
            if scheme is None:
                return info
            hooks = register(self.pm, scheme, f"{info.name}.scheme")
        except Exception as exc:  # the plugin's fault: name it, or keep it for ``authhub plugins``
            message = exc.detail if isinstance(exc, AuthhubError) else f"{type(exc).__name__}: {exc}"
            if check_chain:
                raise ConfigurationError(f"plugin {info.name!r}: {message}") from exc
            return attrs.evolve(info, error=message)
        self._members[info.name].append(scheme)
        self._objects[info.name] = scheme
        return attrs.evolve(info, hooks=tuple(sorted({*info.hooks, *hooks})))

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin this hub knows, loaded or failed, in discovery order."""
        return list(self._infos)

    @property
    def installed_schemes(self) -> list[str]:
        """The plugins that authenticate requests, in their default chain order."""
        schemes = [info.name for info in self._infos if info.is_scheme  # a wrapper of authenticate alone is none
                   and self.hooks.member_implementation("authenticate", self._members[info.name]) is not None]
        return sorted(schemes, key=lambda name: (self._position(name), name))

    def _position(self, name: str) -> int:
        return getattr(self._objects.get(name), "position", DEFAULT_POSITION)

    def scheme_object(self, name: str) -> object | None:
        """The per-hub object of plugin ``name`` (``create_scheme``), ``None`` when it has none."""
        return self._objects.get(name)

    def find_scheme(self, kind: type[SchemeT]) -> SchemeT:
        """This hub's object of class ``kind`` (a plugin's public functions find their state this way).

        :raises ConfigurationError: no plugin of this hub made one.
        """
        for scheme in self._objects.values():
            if isinstance(scheme, kind):
                return scheme
        raise ConfigurationError(f"no {kind.__name__} in this hub: is its plugin installed and not blocked?")

    def _resolve(self, configured: Sequence[str] | None, check_chain: bool = True) -> list[str]:
        """The chain's scheme names, checked against what is installed."""
        installed = self.installed_schemes
        if configured is None:
            return installed
        if not check_chain:
            return list(configured)
        failed = {info.name: info.error for info in self._infos if info.error is not None}
        for name in configured:
            if name in failed:
                raise ConfigurationError(f"scheme {name!r} is configured but failed to load: {failed[name]}")
            if name not in installed:
                raise ConfigurationError(
                    f"scheme {name!r} is configured but not installed; "
                    f"installed schemes: {', '.join(installed) or 'none'}"
                )
        if len(set(configured)) != len(configured):
            raise ConfigurationError(f"schemes: a scheme is listed twice in {list(configured)!r}")
        return list(configured)

    # -- authentication -------------------------------------------------------------

    def chain(self, schemes: Sequence[str] | None = None) -> Chain:
        """The chain for ``schemes`` (default: the configured one), built once and kept."""
        if schemes is None:
            return self._default_chain
        key = tuple(schemes)
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains[key] = self._build_chain(self._resolve(key))
        return chain

    def _build_chain(self, names: Sequence[str]) -> Chain:
        watched = self.tracing or self.hooks.has_wrappers("authenticate")
        links = []
        for name in names:
            members = self._members.get(name, ())
            impl = self.hooks.member_implementation("authenticate", members)
            if impl is None:  # only without check_chain (authhub plugins on a broken installation)
                continue
            caller = self.hooks.member_caller("authenticate", members) if watched else None
            native = self.hooks.member_implementation("aauthenticate", members)
            links.append(Link(
                name, impl.function, tuple(impl.argnames), self.settings.section(name), self, caller=caller,
                async_function=native.function if native is not None else None,
                async_argnames=tuple(native.argnames) if native is not None else (),
                async_caller=self.hooks.member_caller("aauthenticate", members) if watched and native else None,
            ))
        observe = self.observe if self.hooks.has_observers() else None
        return Chain(links, self._anonymous, observe)

    def authenticate(self, request: Request, schemes: Sequence[str] | None = None) -> Identity:
        """Run the chain for ``request`` in this thread; raises :class:`AuthhubError` to refuse."""
        return self.chain(schemes).run(request)

    async def aauthenticate(self, request: Request, schemes: Sequence[str] | None = None) -> Identity:
        """Run the chain without blocking the event loop (plain hooks go to a worker thread)."""
        return await self.chain(schemes).arun(request)

    def challenges(
        self, request: Request, error: AuthhubError | None, schemes: Sequence[str] | None = None
    ) -> list[str]:
        """The ``WWW-Authenticate`` challenges of the chain's schemes, in chain order."""
        challenges = []
        script_client = self.settings["script_clients_no_popup"] and "XMLHttpRequest" in request.headers.get_all(
            "x-requested-with"
        )
        for link in self.chain(schemes).links:
            for challenge in self.hooks.call_members(
                "challenge", self._members[link.name], request=request, settings=link.settings, error=error
            ):
                if script_client and challenge.lower().startswith("basic"):
                    # A 'Basic' challenge makes browsers pop up a login dialog over
                    # a script's request; 'xBasic' keeps the information without it.
                    challenge = "x" + challenge
                challenges.append(challenge)
        return challenges

    def openapi(self, name: str) -> dict[str, Any] | None:
        """Scheme ``name``'s OpenAPI Security Scheme Object (:meth:`authhub.Scheme.openapi`), if it has one."""
        describe = getattr(self._objects.get(name), "openapi", None)
        return describe() if describe is not None else None

    def auth_headers(self, scheme: str, user: Any, password: str | None = None) -> dict[str, str] | None:
        """Working request headers of ``scheme`` for ``user`` (its ``auth_headers`` hook), for tests."""
        members = self._members.get(scheme)
        if members is None:
            raise ConfigurationError(f"scheme {scheme!r} is not installed in this hub")
        answers = self.hooks.call_members("auth_headers", members, hub=self, user=user, password=password)
        return answers[0] if answers else None

    def routes(self) -> list[tuple[str, Route]]:
        """``(plugin name, route)`` for every route the plugins add to ``authhub serve``."""
        routes: list[tuple[str, Route]] = []
        for name, members in self._members.items():
            for answer in self.hooks.call_members("serve_routes", members, hub=self):
                routes.extend((name, route) for route in answer)
        return routes

    def _anonymous(self) -> Identity:
        user = self._anonymous_user() if self._anonymous_user is not None else None
        auth = self._anonymous_auth() if self._anonymous_auth is not None else None
        return Identity(user, auth, None)

    def observe(self, outcome: Outcome) -> None:
        """Tell the ``authentication_outcome`` observers about an outcome.

        The chain calls it for every run; a plugin calls it for attempts it
        judges outside the chain (a login form, a client secret at a token
        endpoint). An observer's failure is logged, never raised.
        """
        try:
            self.hooks.authentication_outcome(outcome)
        except Exception:  # an observer never decides the request
            log.exception("authentication_outcome observer failed")

    # -- changes ------------------------------------------------------------------

    def invalidate(self, kind: str, key: str) -> None:
        """Announce that cached answers about ``kind``/``key`` are wrong now (``invalidated`` hook).

        Call it after every change that must cut access at once: a
        revocation, a logout, a password change, a deactivation. This hub's
        plugins are told at once; every other hub on the same store, in
        this process or another, through the invalidation channel
        (:mod:`authhub.changes`) within milliseconds.

        :raises StoreUnavailable: the announcement could not be written.
        """
        self._deliver(kind, key)
        self.changes.announce(kind, key)

    @property
    def changes(self) -> Changes:
        """This hub's end of the invalidation channel; a cache is used only while ``changes.current``."""
        if self._changes is None:
            redis_url = self.settings["changes_redis_url"]
            transport = (RedisLog(redis_url) if redis_url
                         else DatabaseLog(self.store, self.settings["changes_poll_interval"]))
            self._changes = Changes(transport, self._deliver)
        return self._changes

    def _deliver(self, kind: str, key: str) -> None:
        """Tell every plugin of this hub, each on its own, so one failing does not keep the others stale."""
        for impl in self.hooks.implementations("invalidated"):
            try:
                self.hooks.call_members("invalidated", [impl.plugin], hub=self, kind=kind, key=key)
            except Exception:
                log.exception("plugin %r failed to drop its cache for %s %s", impl.plugin_name, kind, key)

    def user_changed(self, user: Any) -> None:
        """A user's password or status changed: act on it here, and invalidate ``("user", str(user.id))``."""
        self.hooks.user_changed(self, user)
        self.invalidate("user", str(user.id))

    # -- storage ------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The hub's database, opened on first use."""
        if self._store is None:
            self._store = Store(self.settings["database_url"])
        return self._store

    @property
    def users(self) -> Any:
        """The user store (the built-in table unless a plugin hands in another)."""
        if self._users is None:
            self._users = self.hooks.user_store(self)
        return self._users

    @property
    def lockout(self) -> Lockout:
        """Lockout and backoff for schemes that check a secret (see :mod:`authhub.lockout`)."""
        if self._lockout is None:
            self._lockout = Lockout(self)
        return self._lockout

    def token_model(self) -> type | None:
        """The token model the plugins agree on (the ``token_model`` hook), ``None`` when none answers."""
        return self.hooks.token_model()

    def migration_directories(self) -> list[str]:
        return self.hooks.migration_directories()

    def upgrade(self) -> None:
        """Create or upgrade every installed distribution's tables (idempotent)."""
        self.store.upgrade(self.migration_directories())

    def close(self) -> None:
        """Close every plugin's object, then the store's connections."""
        for name, scheme in self._objects.items():
            close = getattr(scheme, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:
                log.exception("plugin %r failed to close", name)
        if self._changes is not None:
            self._changes.close()
        if self._store is not None:
            self._store.dispose()
            self._store = None

    def __repr__(self) -> str:
        return f"<AuthHub schemes={list(self.schemes)!r}>"


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConfigurationError(f"trusted_proxies: {text!r} is not an IP address or network") from None


def _dotted(key: str, path: str | None) -> Any:
    """Import ``module:attr`` or ``module.attr``; ``None`` stays ``None``."""
    if path is None:
        return None
    module_name, _, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"{key}: cannot import {path!r}: {exc}") from None
    if not callable(target):
        raise ConfigurationError(f"{key}: {path!r} is not callable")
    return target
