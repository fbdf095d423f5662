"""``AuthHub``: one configuration, one plugin manager, one store.

Nothing here is global: two hubs with different chains live side by side
in one process.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from authhub import builtins
from authhub import plugins as discovery
from authhub.chain import Chain, Link
from authhub.config import Settings, current_environ, load_settings
from authhub.errors import AuthhubError, ConfigurationError
from authhub.identity import Identity
from authhub.lockout import Lockout
from authhub.outcome import Outcome
from authhub.plugins import Hooks, PluginInfo, new_manager, register
from authhub.request import Request
from authhub.store import Store

log = logging.getLogger("authhub")

#: Where the known schemes go when ``schemes`` is not configured; any other
#: scheme follows them in alphabetical order.
DEFAULT_ORDER = ("token", "oauth", "basic", "session")


class AuthHub:
    """The object an application embeds.

    ``AuthHub()`` reads the configuration (keyword arguments, then
    ``AUTHHUB_*`` variables, ``authhub.toml``, ``[tool.authhub]``), loads the
    installed plugins and checks that the configured chain can run; it
    raises :class:`ConfigurationError` naming what is wrong otherwise.

    :param directory: where to look for ``authhub.toml`` / ``pyproject.toml``
        (default: the working directory).
    :param environ: the environment to read (default: ``os.environ``).
    :param load_entry_points: load installed plugins (default ``True``).
    :param plugins: more plugins to register, ``{name: plugin}``.
    :param check_chain: refuse a configured scheme that is missing or broken
        (``False`` only for tools that report on a broken installation).
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
        self._directory = Path(directory) if directory is not None else Path.cwd()
        self._environ = environ if environ is not None else current_environ()
        self._overrides = settings
        self._check_chain = check_chain
        self.pm = new_manager()
        self.hooks = Hooks(self.pm)
        register(self.pm, builtins, "authhub.builtins")
        self._infos: list[PluginInfo] = []
        if load_entry_points:
            self._infos.extend(discovery.load_entry_points(self.pm, self._environ))
        for name, plugin in (plugins or {}).items():
            self._infos.append(self._register(plugin, name))
        self._store: Store | None = None
        self._users: Any = None
        self._lockout: Lockout | None = None
        self._configure()

    # -- plugins and configuration -----------------------------------------------

    def register(self, plugin: Any, name: str) -> None:
        """Register ``plugin`` in code under ``name`` and re-check the configuration."""
        self._infos.append(self._register(plugin, name))
        self._configure()

    def _register(self, plugin: Any, name: str) -> PluginInfo:
        hooks = register(self.pm, plugin, name)
        return PluginInfo(name, None, None, hooks)

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin this hub knows, loaded or failed, in discovery order."""
        return list(self._infos)

    @property
    def installed_schemes(self) -> list[str]:
        return [info.name for info in self._infos if info.is_scheme]

    def _configure(self) -> None:
        self.settings: Settings = load_settings(
            self.hooks.scheme_settings(),
            overrides=self._overrides,
            environ=self._environ,
            directory=self._directory,
        )
        self.schemes: tuple[str, ...] = tuple(self._resolve(self.settings["schemes"]))
        self.trusted_proxies = [_network(text) for text in self.settings["trusted_proxies"]]
        self._anonymous_user = _dotted("unauthenticated_user", self.settings["unauthenticated_user"])
        self._anonymous_auth = _dotted("unauthenticated_token", self.settings["unauthenticated_token"])
        self._chains: dict[tuple[str, ...] | None, Chain] = {}

    def _resolve(self, configured: Sequence[str] | None) -> list[str]:
        """The chain's scheme names, checked against what is installed."""
        installed = self.installed_schemes
        if configured is None:
            known = [name for name in DEFAULT_ORDER if name in installed]
            return known + sorted(name for name in installed if name not in DEFAULT_ORDER)
        if not self._check_chain:
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
        key = None if schemes is None else tuple(schemes)
        chain = self._chains.get(key)
        if chain is None:
            names = self.schemes if key is None else self._resolve(key)
            links = []
            for name in names:
                impl = self.hooks.implementation("authenticate", name)
                assert impl is not None  # _resolve only keeps schemes that implement it
                links.append(Link(name, impl.function, tuple(impl.argnames), self.settings.section(name)))
            observe = self.observe if self.hooks.has_observers() else None
            chain = Chain(links, self._anonymous, observe)
            self._chains[key] = chain
        return chain

    def authenticate(self, request: Request, schemes: Sequence[str] | None = None) -> Identity:
        """Run the chain for ``request`` in this thread; raises :class:`AuthhubError` to refuse."""
        return self.chain(schemes).run(request, self)

    async def aauthenticate(self, request: Request, schemes: Sequence[str] | None = None) -> Identity:
        """Run the chain without blocking the event loop (plain hooks go to a worker thread)."""
        return await self.chain(schemes).arun(request, self)

    def challenges(
        self, request: Request, error: AuthhubError | None, schemes: Sequence[str] | None = None
    ) -> list[str]:
        """The ``WWW-Authenticate`` challenges of the chain's schemes, in chain order."""
        challenges = []
        script_client = self.settings["script_clients_no_popup"] and "XMLHttpRequest" in request.headers.get_all(
            "x-requested-with"
        )
        for link in self.chain(schemes).links:
            impl = self.hooks.implementation("challenge", link.name)
            if impl is None:
                continue
            values = {"request": request, "settings": link.settings, "error": error}
            challenge = impl.function(*[values[name] for name in impl.argnames])
            if not challenge:
                continue
            if script_client and challenge.lower().startswith("basic"):
                # A 'Basic' challenge makes browsers pop up a login dialog over
                # a script's request; 'xBasic' keeps the information without it.
                challenge = "x" + challenge
            challenges.append(challenge)
        return challenges

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

    def migration_directories(self) -> list[str]:
        return self.hooks.migration_directories()

    def upgrade(self) -> None:
        """Create or upgrade every installed distribution's tables (idempotent)."""
        self.store.upgrade(self.migration_directories())

    def close(self) -> None:
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
