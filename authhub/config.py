"""Settings: where they come from, and how they are checked.

Precedence, highest first: keyword arguments, ``AUTHHUB_*`` environment
variables, ``authhub.toml`` in the working directory, ``[tool.authhub]`` in
``pyproject.toml``, the declared defaults. Top-level keys are the core's;
a table named after a plugin (``[tool.authhub.basic]``) is that plugin's
section, checked against what the plugin declares with ``scheme_settings``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from authhub.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENV_PREFIX = "AUTHHUB_"
#: Environment variables that are switches of their own, not settings.
ENV_SWITCHES = frozenset({"AUTHHUB_BLOCK_PLUGINS", "AUTHHUB_TRACE_HOOKS"})

_KINDS = (str, int, float, bool, list, dict)


@attrs.frozen
class Setting:
    """One declared setting: its default, its kind and a line of help.

    ``kind`` is one of ``str``, ``int``, ``float``, ``bool``, ``list``
    (a list of strings; from the environment, comma-separated) or ``dict``
    (a table of strings by string; from the environment, a JSON object).
    ``nullable`` settings also accept ``None`` (``""`` in TOML and the
    environment).
    """

    default: Any
    kind: type = attrs.field(default=str, kw_only=True)
    nullable: bool = attrs.field(default=False, kw_only=True)
    help: str = attrs.field(default="", kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise TypeError(f"Setting kind must be one of {_KINDS}, not {self.kind!r}")

    def check(self, key: str, value: Any, source: str) -> Any:
        """Return ``value`` as this setting's kind, or raise naming ``key`` and ``source``."""
        if value is None or (value == "" and self.nullable and self.kind is not str):
            if self.nullable:
                return None
            raise ConfigurationError(f"{key}: must not be empty (from {source})")
        if self.nullable and self.kind is str and value == "":
            return None
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is list and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        if kind is dict and isinstance(value, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        if kind is dict and isinstance(value, Mapping):
            raise ConfigurationError(f"{key}: expected a table of strings, got {value!r} (from {source})")
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        raise ConfigurationError(
            f"{key}: expected {_kind_name(kind)}, got {type(value).__name__} {value!r} (from {source})"
        )

    def parse_env(self, key: str, text: str, source: str) -> Any:
        """Turn an environment variable's text into this setting's kind."""
        if text.strip() == "" and self.nullable:
            return None
        kind = self.kind
        try:
            if kind is bool:
                lowered = text.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(text)
            if kind is list:
                return [part.strip() for part in text.split(",") if part.strip()]
            if kind is dict:
                # A JSON object: its strings may hold commas, unlike a list's items.
                table = json.loads(text)
                if not isinstance(table, dict):
                    raise ValueError(text)
                return table
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
        except ValueError:
            raise ConfigurationError(f"{key}: expected {_kind_name(kind)}, got {text!r} (from {source})") from None
        return text


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list of strings",
            dict: "a table of strings (from the environment, a JSON object)"}[kind]


#: The core's own settings (top-level keys).
CORE_SETTINGS: dict[str, Setting] = {
    "schemes": Setting(
        None,
        kind=list,
        nullable=True,
        help="Schemes in chain order; unset means every installed scheme in the default order.",
    ),
    "database_url": Setting("sqlite:///authhub.db", help="SQLAlchemy URL of the hub's database."),
    "unauthenticated_user": Setting(
        "authhub.identity:AnonymousUser",
        nullable=True,
        help="Dotted path to a callable giving the anonymous user, or empty for None.",
    ),
    "unauthenticated_token": Setting(
        None, nullable=True, help="Dotted path to a callable giving the anonymous auth, or empty for None."
    ),
    "trusted_proxies": Setting(
        [], kind=list, help="Addresses whose X-Forwarded-For / X-Forwarded-Proto headers are believed."
    ),
    "script_clients_no_popup": Setting(
        True, kind=bool, help="Send Basic as 'xBasic' to requests with X-Requested-With: XMLHttpRequest."
    ),
    "max_body_size": Setting(1_048_576, kind=int, help="Largest request body (bytes) authhub reads for forms."),
    "lockout_enabled": Setting(True, kind=bool, help="Slow down and lock out repeated failed attempts."),
    "lockout_backoff_after": Setting(
        5, kind=int, help="Failures in a window after which each failure locks for 1, 2, 4, ... s."
    ),
    "lockout_threshold": Setting(10, kind=int, help="Failures of one (subject, address) pair that lock it."),
    "lockout_global_threshold": Setting(
        100, kind=int, help="Failures against one subject, or from one address, across pairs, that lock it."
    ),
    "lockout_window": Setting(900, kind=int, help="Seconds over which failures are counted."),
    "lockout_duration": Setting(900, kind=int, help="Seconds a key stays locked once the threshold is reached."),
    "lockout_redis_url": Setting(None, nullable=True, help="Keep lockout counters in Redis instead of the database."),
    "changes_redis_url": Setting(
        None, nullable=True,
        help="Carry cache invalidations through this Redis (a stream) instead of the database's own channel.",
    ),
    "changes_poll_interval": Setting(
        0.01, kind=float, help="SQLite: seconds between two looks for invalidations from other processes."
    ),
    "password_time_cost": Setting(3, kind=int, help="argon2id time cost for new password hashes."),
    "password_memory_cost": Setting(65536, kind=int, help="argon2id memory cost (KiB) for new password hashes."),
    "password_parallelism": Setting(4, kind=int, help="argon2id parallelism for new password hashes."),
    "templates_dir": Setting(
        None, nullable=True,
        help="A directory of templates that replace the pages' own (login.html, consent.html, base.html, "
             "authhub.css...); relative to the directory of authhub.toml.",
    ),
}


@attrs.frozen
class Settings:
    """The validated configuration of one hub.

    ``core`` holds the top-level keys, ``sections`` each plugin's section,
    ``sources`` where each value came from (for messages).
    """

    core: Mapping[str, Any]
    sections: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.core[key]

    def section(self, name: str) -> Mapping[str, Any]:
        """The settings of plugin ``name`` (empty when it declares none)."""
        return self.sections.get(name, _EMPTY)


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def load_settings(
    specs: Mapping[str, Mapping[str, Setting]],
    *,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str],
    directory: Path,
) -> Settings:
    """Merge every source into :class:`Settings`.

    :param specs: each plugin's declared settings, by plugin name.
    :param overrides: keyword arguments (highest precedence); a plugin's
        section is a mapping under its name.
    :param environ: the environment to read ``AUTHHUB_*`` from.
    :param directory: where ``authhub.toml`` and ``pyproject.toml`` are.
    """
    layers: list[tuple[str, Mapping[str, Any]]] = []
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("authhub", {})
        layers.append((f"{pyproject} [tool.authhub]", table))
    own = directory / "authhub.toml"
    if own.is_file():
        layers.append((str(own), _read_toml(own)))

    core: dict[str, Any] = {key: setting.default for key, setting in CORE_SETTINGS.items()}
    sections: dict[str, dict[str, Any]] = {
        name: {key: setting.default for key, setting in spec.items()} for name, spec in specs.items()
    }
    sources: dict[str, str] = {}

    def apply(source: str, table: Mapping[str, Any]) -> None:
        for key, value in table.items():
            if key in CORE_SETTINGS:
                core[key] = CORE_SETTINGS[key].check(key, value, source)
                sources[key] = source
            elif key in specs:
                if not isinstance(value, Mapping):
                    raise ConfigurationError(f"{key}: expected a table of settings for plugin {key!r} (from {source})")
                for sub, subvalue in value.items():
                    spec = specs[key]
                    if sub not in spec:
                        raise ConfigurationError(_unknown(f"{key}.{sub}", source, spec))
                    sections[key][sub] = spec[sub].check(f"{key}.{sub}", subvalue, source)
                    sources[f"{key}.{sub}"] = source
            else:
                raise ConfigurationError(_unknown(key, source, {**CORE_SETTINGS, **specs}))

    for source, table in layers:
        apply(source, table)
    apply("environment", _from_environ(environ, specs))
    apply("keyword arguments", overrides)

    return Settings(
        core=MappingProxyType(core),
        sections=MappingProxyType({name: MappingProxyType(values) for name, values in sections.items()}),
        sources=MappingProxyType(sources),
    )


def _unknown(key: str, source: str, known: Mapping[str, Any]) -> str:
    names = ", ".join(sorted(known)) or "none"
    return f"unknown setting {key!r} (from {source}); known: {names}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None


def _from_environ(environ: Mapping[str, str], specs: Mapping[str, Mapping[str, Setting]]) -> dict[str, Any]:
    """Read ``AUTHHUB_<KEY>`` and ``AUTHHUB_<PLUGIN>_<KEY>`` into a settings table."""
    table: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_SWITCHES:
            continue
        source = f"environment variable {name}"
        rest = name[len(ENV_PREFIX) :].lower()
        if rest in CORE_SETTINGS:
            table[rest] = CORE_SETTINGS[rest].parse_env(rest, text, source)
            continue
        for plugin, spec in specs.items():
            prefix = plugin.lower().replace("-", "_") + "_"
            if rest.startswith(prefix) and rest[len(prefix) :] in spec:
                key = rest[len(prefix) :]
                table.setdefault(plugin, {})[key] = spec[key].parse_env(f"{plugin}.{key}", text, source)
                break
        else:
            raise ConfigurationError(
                f"unknown setting in {source}; known core keys: {', '.join(sorted(CORE_SETTINGS))}"
            )
    return table


def current_environ() -> Mapping[str, str]:
    """The process environment (a function so tests can pass their own)."""
    return os.environ
