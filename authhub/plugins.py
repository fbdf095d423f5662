"""Finding plugins: entry points in the group ``authhub``, and the plugin manager.

A plugin that cannot be imported, or that pluggy refuses, is recorded with
its error instead of stopping the others from loading (``authhub plugins``
reports it). Set ``AUTHHUB_BLOCK_PLUGINS=name,name`` to skip installed
plugins without uninstalling them, and ``AUTHHUB_TRACE_HOOKS=1`` to print
every hook call to stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs
import importlib_metadata
import pluggy

from authhub import hookspecs
from authhub.errors import PluginError

GROUP = "authhub"
log = logging.getLogger("authhub.plugins")


@attrs.frozen
class PluginInfo:
    """What ``authhub plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...] = ()
    error: str | None = None

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "error"

    @property
    def is_scheme(self) -> bool:
        return self.error is None and "authenticate" in self.hooks


def new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def register(pm: pluggy.PluginManager, plugin: Any, name: str) -> tuple[str, ...]:
    """Register ``plugin`` as ``name``; refuse it (and leave ``pm`` unchanged) when it does not fit.

    Returns the names of the hooks it implements.
    """
    try:
        hash(plugin)
    except TypeError:
        # pluggy keeps plugins in dicts and sets; an unhashable one (an @attrs.define
        # class) would fail later, deep inside pluggy, with a bare TypeError.
        raise PluginError(f"plugin {name!r}: {type(plugin).__name__} objects are unhashable; "
                          "use @attrs.define(eq=False) or keep the default object identity") from None
    if pm.has_plugin(name):
        raise PluginError(f"plugin {name!r}: the name is already taken by another plugin")
    if pm.is_registered(plugin):
        raise PluginError(f"plugin {name!r}: this object is already registered as {pm.get_name(plugin)!r}")
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r}: {exc}") from None
    hooks: list[str] = []
    unknown: list[str] = []
    for caller in pm.get_hookcallers(plugin) or ():
        (unknown if caller.spec is None else hooks).append(caller.name)
    if unknown:
        pm.unregister(plugin)
        raise PluginError(f"plugin {name!r}: implements hooks that do not exist: {', '.join(sorted(unknown))}")
    return tuple(sorted(hooks))


def load_entry_points(pm: pluggy.PluginManager, environ: Mapping[str, str]) -> list[PluginInfo]:
    """Load every entry point of the group ``authhub`` into ``pm``.

    Each entry point's name is the plugin's (and its scheme's) name.
    """
    blocked = {name.strip() for name in environ.get("AUTHHUB_BLOCK_PLUGINS", "").split(",") if name.strip()}
    infos: list[PluginInfo] = []
    for entry_point in sorted(importlib_metadata.entry_points(group=GROUP), key=lambda ep: ep.name):
        if entry_point.name in blocked:
            continue
        dist = entry_point.dist
        distribution = dist.name if dist is not None else None
        version = dist.version if dist is not None else None
        try:
            plugin = entry_point.load()
            hooks = register(pm, plugin, entry_point.name)
        except Exception as exc:  # any import failure is the plugin's, not ours
            message = f"{type(exc).__name__}: {exc}"
            log.error("plugin %r (%s) failed to load: %s", entry_point.name, entry_point.value, message)
            infos.append(PluginInfo(entry_point.name, distribution, version, error=message))
            continue
        infos.append(PluginInfo(entry_point.name, distribution, version, hooks))
    return infos


class Hooks:
    """Typed calls of every hook, so callers never touch ``pm.hook`` (tox's pattern).

    Every call goes through pluggy, which binds the arguments each
    implementation names; tracing and hook wrappers see them all. Hooks
    that belong to one plugin (a scheme's challenge, its routes) are called
    on that plugin's members alone with :meth:`call_members`.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm

    def implementations(self, hook: str) -> list[pluggy.HookImpl]:
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook)
        return caller.get_hookimpls()

    def member_implementation(self, hook: str, members: Collection[object]) -> pluggy.HookImpl | None:
        """The (last registered) non-wrapper implementation of ``hook`` among ``members``."""
        found = [impl for impl in self.implementations(hook)
                 if impl.plugin in members and not (impl.hookwrapper or impl.wrapper)]
        return found[-1] if found else None

    def has_wrappers(self, hook: str) -> bool:
        return any(impl.hookwrapper or impl.wrapper for impl in self.implementations(hook))

    def member_caller(self, hook: str, members: Collection[object]) -> Callable[..., list[Any]]:
        """A caller of ``hook`` on ``members`` only (plus every plugin's wrappers of it)."""
        others = [impl.plugin for impl in self.implementations(hook)
                  if impl.plugin not in members and not (impl.hookwrapper or impl.wrapper)]
        caller: Callable[..., list[Any]] = self._pm.subset_hook_caller(hook, remove_plugins=others)
        return caller

    def call_members(self, hook: str, members: Collection[object], **kwargs: Any) -> list[Any]:
        """Call ``hook`` on ``members`` only; their non-``None`` results."""
        return self.member_caller(hook, members)(**kwargs)

    def scheme_settings(self) -> dict[str, dict[str, Any]]:
        """Each plugin's declared settings, by plugin name."""
        declared: dict[str, dict[str, Any]] = {}
        for impl in self.implementations("scheme_settings"):
            assert impl.plugin_name is not None
            declared[impl.plugin_name] = dict(self.call_members("scheme_settings", [impl.plugin])[0] or {})
        return declared

    def create_scheme(self, plugin: object, hub: Any, name: str, settings: Mapping[str, Any]) -> object | None:
        results = self.call_members("create_scheme", [plugin], hub=hub, name=name, settings=settings)
        return results[0] if results else None

    def token_model(self) -> type | None:
        model: type | None = self._pm.hook.token_model()
        return model

    def user_store(self, hub: Any) -> Any:
        return self._pm.hook.user_store(hub=hub)

    def user_changed(self, hub: Any, user: Any) -> None:
        self._pm.hook.user_changed(hub=hub, user=user)

    def invalidated(self, hub: Any, kind: str, key: str) -> None:
        self._pm.hook.invalidated(hub=hub, kind=kind, key=key)

    def migration_directories(self) -> list[str]:
        return [directory for directory in self._pm.hook.migration_directory() if directory]

    def register_commands(self, cli: Any) -> None:
        self._pm.hook.register_commands(cli=cli)

    def has_observers(self) -> bool:
        return bool(self.implementations("authentication_outcome"))

    def authentication_outcome(self, outcome: Any) -> None:
        self._pm.hook.authentication_outcome(outcome=outcome)
