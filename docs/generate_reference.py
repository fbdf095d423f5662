"""The documentation site's generated reference pages.

Each page is made from what the code declares, when the site is built, so
it cannot drift from it:

- ``reference/configuration.md``: the core's settings
  (``authhub.config.CORE_SETTINGS``) and each installed plugin's
  (its ``scheme_settings`` hook), with defaults, kinds and environment
  variables;
- ``reference/hooks.md``: every hook of ``authhub/hookspecs.py``, in
  source order under its phase, rendered by mkdocstrings;
- ``reference/api.md``: every name of ``authhub.__all__``, rendered by
  mkdocstrings.

``docs/hooks.py`` adds the pages to the MkDocs build; run this file as a
script to write them to a directory instead::

    python docs/generate_reference.py /tmp/reference
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FunctionType
from typing import Any

import authhub
from authhub import hookspecs
from authhub.config import CORE_SETTINGS, ENV_PREFIX, Setting
from authhub.plugins import Hooks, load_entry_points, new_manager

_KIND_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list of strings",
               dict: "table of strings"}

#: Section comments of hookspecs.py: ``# -- the hub's set-up (once per hub) ----``.
_HOOK_PHASE = re.compile(r"^# -- (?P<title>.+?) -+\s*$")

#: Where each public name is documented on the API page, by the module that defines it.
_API_GROUPS: dict[str, tuple[str, ...]] = {
    "The hub": ("authhub.hub",),
    "Scheme objects": ("authhub.scheme",),
    "Requests and responses": ("authhub.request", "authhub.http", "authhub.routes", "authhub.pages"),
    "Users and identities": ("authhub.identity", "authhub.outcome", "authhub.users"),
    "Settings": ("authhub.config",),
    "Storage": ("authhub.store", "authhub.reads"),
    "Caches and outages": ("authhub.cache", "authhub.outages"),
    "Errors": ("authhub.errors", "authhub.authorization"),
    "Command line": ("authhub.commands",),
}

#: Public names that are neither classes nor functions, so mkdocstrings has no docstring to show.
_PLAIN_NAMES = {
    "hookimpl": "The marker of hook implementations: `@authhub.hookimpl` on a module-level function or on "
    "a method of a scheme object (pluggy's `HookimplMarker` for the project `authhub`).",
    "hookspec": "The marker of hook specifications (pluggy's `HookspecMarker` for the project `authhub`); "
    "every hook is in the [hook reference](hooks.md).",
    "__version__": "The version of the core distribution, read from its installed metadata. Every scheme "
    "distribution has its own `__version__`.",
}


# -- configuration ----------------------------------------------------------------


def installed_settings() -> dict[str, dict[str, Setting]]:
    """Each installed plugin's declared settings, by plugin name, as ``authhub plugins`` finds them.

    :raises RuntimeError: an installed plugin fails to load (its settings would be missing).
    """
    pm = new_manager()
    broken = [info for info in load_entry_points(pm, environ={}) if info.error is not None]
    if broken:
        raise RuntimeError("; ".join(f"plugin {info.name!r} failed to load: {info.error}" for info in broken))
    return {name: dict(spec) for name, spec in sorted(Hooks(pm).scheme_settings().items()) if spec}


def environment_variable(key: str, plugin: str | None = None) -> str:
    """The variable that sets ``key``: ``AUTHHUB_<KEY>`` or ``AUTHHUB_<PLUGIN>_<KEY>``."""
    if plugin is None:
        return f"{ENV_PREFIX}{key.upper()}"
    return f"{ENV_PREFIX}{plugin.upper().replace('-', '_')}_{key.upper()}"


def _default(setting: Setting) -> str:
    if setting.default is None:
        return "*unset*"
    if isinstance(setting.default, bool):
        return f"`{str(setting.default).lower()}`"
    if isinstance(setting.default, (str, list)):
        return f"`{json.dumps(setting.default, ensure_ascii=False)}`"  # a TOML literal too
    if isinstance(setting.default, dict):  # a TOML inline table
        pairs = ", ".join(f"{json.dumps(key)} = {json.dumps(value, ensure_ascii=False)}"
                          for key, value in setting.default.items())
        return f"`{{{pairs}}}`"
    return f"`{setting.default!r}`"


def _kind(setting: Setting) -> str:
    name = _KIND_NAMES[setting.kind]
    return f"{name} or unset" if setting.nullable else name


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_table(settings: Mapping[str, Setting], plugin: str | None = None) -> str:
    """A markdown table of ``settings``: key, default, kind, environment variable, help."""
    rows = ["| key | default | kind | environment | meaning |", "| --- | --- | --- | --- | --- |"]
    for key, setting in settings.items():
        rows.append(
            f"| `{key}` | {_default(setting)} | {_kind(setting)} | `{environment_variable(key, plugin)}` "
            f"| {_cell(setting.help)} |"
        )
    return "\n".join(rows) + "\n"


def plugin_settings_table(plugin: str) -> str:
    """The settings table of the installed plugin ``plugin``.

    :raises LookupError: no installed plugin of that name declares settings.
    """
    declared = installed_settings()
    if plugin not in declared:
        raise LookupError(f"no installed plugin {plugin!r} declares settings (installed: {', '.join(declared)})")
    return settings_table(declared[plugin], plugin)


def configuration_page() -> str:
    """``reference/configuration.md``."""
    parts = [
        "# Configuration reference\n",
        "Every setting the core and the installed schemes declare, generated from the code when this site "
        "was built (`authhub.config.CORE_SETTINGS` and each plugin's `scheme_settings` hook). Where settings "
        "come from and in which order is on [Configuration](../configuration.md).\n",
        "In the environment a list is comma-separated (`AUTHHUB_SCHEMES=token,basic`), a table is a JSON object "
        "(`AUTHHUB_OAUTH_SCOPE_DESCRIPTIONS='{\"read\": \"See your profile\"}'`), a boolean is one of "
        "`1 true yes on` / `0 false no off`, and an empty value unsets a setting that may be unset.\n",
        "## Core\n",
        "Top-level keys: `[tool.authhub]` in `pyproject.toml`, `authhub.toml`, `AuthHub(key=...)`.\n",
        settings_table(CORE_SETTINGS),
    ]
    for plugin, settings in installed_settings().items():
        parts += [
            f"## {plugin}\n",
            f"The `{plugin}` plugin's section: `[tool.authhub.{plugin}]`, `[{plugin}]` in `authhub.toml`, "
            f"`AuthHub({plugin}={{...}})`.\n",
            settings_table(settings, plugin),
        ]
    return "\n".join(parts)


# -- hooks ---------------------------------------------------------------------------


def hookspec_functions() -> list[FunctionType]:
    """Every hook specification of ``authhub.hookspecs``, in source order."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    found = [value for value in vars(hookspecs).values()
             if isinstance(value, FunctionType) and hasattr(value, marker)]
    return sorted(found, key=lambda function: function.__code__.co_firstlineno)


def _hook_phases() -> list[tuple[str, list[FunctionType]]]:
    """The hooks under the section comment that precedes each in ``hookspecs.py``."""
    starts: list[tuple[int, str]] = []
    for number, line in enumerate(inspect.getsource(hookspecs).splitlines(), start=1):
        match = _HOOK_PHASE.match(line)
        if match:
            title = match["title"]
            starts.append((number, title[:1].upper() + title[1:]))
    phases: list[tuple[str, list[FunctionType]]] = []
    for function in hookspec_functions():
        first_line = function.__code__.co_firstlineno
        title = next((title for start, title in reversed(starts) if start < first_line), "Hooks")
        if not phases or phases[-1][0] != title:
            phases.append((title, []))
        phases[-1][1].append(function)
    return phases


def _anchor(title: str) -> str:
    """The id Python-Markdown's ``toc`` gives a heading (its default ``slugify``)."""
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", title).strip().lower())


def hooks_page() -> str:
    """``reference/hooks.md``."""
    marker = f"{hookspecs.hookspec.project_name}_spec"
    phases = _hook_phases()
    overview = ["| hook | called | firstresult |", "| --- | --- | --- |"]
    for title, functions in phases:
        for function in functions:
            first = getattr(function, marker).get("firstresult", False)
            overview.append(
                f"| [`{function.__name__}`](#authhub.hookspecs.{function.__name__}) "
                f"| [{title}](#{_anchor(title)}) | {'yes' if first else ''} |"
            )
    parts = [
        "# Hook reference\n",
        inspect.cleandoc(hookspecs.__doc__ or "") + "\n",
        "Generated from `authhub/hookspecs.py` when this site was built. A *firstresult* hook stops at the "
        "first implementation that returns something other than `None`; the others collect every answer.\n",
        "\n".join(overview) + "\n",
    ]
    for title, functions in phases:
        parts.append(f"## {title}\n")
        parts += [f"::: authhub.hookspecs.{function.__name__}\n" for function in functions]
    return "\n".join(parts)


# -- public API --------------------------------------------------------------------


def public_names() -> list[str]:
    """``authhub.__all__``."""
    return list(authhub.__all__)


def api_page() -> str:
    """``reference/api.md``."""
    groups: dict[str, list[str]] = {title: [] for title in _API_GROUPS}
    plain: list[str] = []
    for name in public_names():
        value: Any = getattr(authhub, name)
        if name in _PLAIN_NAMES or not (inspect.isclass(value) or inspect.isfunction(value)):
            plain.append(name)
            continue
        module = value.__module__
        title = next((title for title, modules in _API_GROUPS.items() if module in modules), f"`{module}`")
        groups.setdefault(title, []).append(name)
    parts = [
        "# Public API\n",
        "Everything a scheme distribution needs is importable from `authhub` and listed in `authhub.__all__`; "
        "the bundled schemes import nothing else from authhub (a test walks their sources). Generated from the "
        "docstrings when this site was built.\n",
    ]
    for title, names in groups.items():
        if names:
            parts.append(f"## {title}\n")
            parts += [f"::: authhub.{name}\n" for name in names]
    if plain:
        parts.append("## Markers and version\n")
        for name in plain:
            text = _PLAIN_NAMES.get(name)
            if text is None:
                raise LookupError(f"authhub.{name} is neither a class nor a function: describe it in _PLAIN_NAMES")
            parts.append(f"`authhub.{name}`\n: {text}\n")
    return "\n".join(parts)


#: The generated pages, by their path in the site.
PAGES: dict[str, Callable[[], str]] = {
    "reference/configuration.md": configuration_page,
    "reference/hooks.md": hooks_page,
    "reference/api.md": api_page,
}


def write_pages(directory: Path) -> list[Path]:
    """Write every generated page under ``directory``; the paths written."""
    written = []
    for uri, make in PAGES.items():
        path = directory / uri
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/generate_reference.py DIRECTORY", file=sys.stderr)
        return 2
    for path in write_pages(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
