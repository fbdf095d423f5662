"""The documentation site: references that name every setting, hook and public name; includes that resolve.

The generated pages come from ``docs/generate_reference.py``, the page markers
from ``docs/includes.py`` (both run by the MkDocs hooks of ``docs/hooks.py``).
``tests/site`` builds the whole site with ``mkdocs build --strict``; the
``docs`` tox environment, which installs MkDocs, runs both.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import importlib_metadata
import pluggy
import pytest

import authhub
from authhub import hookspecs
from authhub.config import CORE_SETTINGS, Setting, load_settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: A value of each kind as the environment spells it, and what the hub should read from it.
ENV_SAMPLES: dict[type, tuple[str, Any]] = {
    str: ("docs-sample", "docs-sample"),
    int: ("7", 7),
    float: ("0.5", 0.5),
    bool: ("off", False),
    list: ("a, b", ["a", "b"]),
    dict: ('{"a": "b, c"}', {"a": "b, c"}),
}


def load_docs_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"authhub_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    return load_docs_module("generate_reference")


@pytest.fixture(scope="module")
def includes() -> ModuleType:
    return load_docs_module("includes")


def table_rows(page: str, heading: str) -> dict[str, list[str]]:
    """The rows of the table under ``## heading``, by the key in their first cell."""
    section = page.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\| `([^`]+)` \|", line)
        if match:
            rows[match[1]] = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
    return rows


def installed_plugin_settings() -> dict[str, dict[str, Setting]]:
    """Each installed plugin's declared settings, found without the generator's code."""
    declared = {}
    for entry_point in importlib_metadata.entry_points(group="authhub"):
        declare = getattr(entry_point.load(), "scheme_settings", None)
        if declare is not None and declare():
            declared[entry_point.name] = dict(declare())
    return declared


def test_the_configuration_reference_has_every_core_setting(reference: ModuleType) -> None:
    rows = table_rows(reference.configuration_page(), "Core")
    assert list(rows) == list(CORE_SETTINGS)
    for key, setting in CORE_SETTINGS.items():
        _, default, kind, variable, meaning = rows[key]
        assert variable == f"`AUTHHUB_{key.upper()}`"
        assert meaning == setting.help.replace("|", "\\|")
        assert kind.startswith(("string", "integer", "number", "boolean", "list of strings"))
        assert ("unset" in kind) == setting.nullable
        if setting.default is None:
            assert default == "*unset*"
        else:  # the default as a TOML value, as it would be written in authhub.toml
            assert tomllib.loads(f"value = {default.strip('`')}")["value"] == setting.default, key


def test_the_configuration_reference_has_a_section_for_each_installed_plugin(reference: ModuleType) -> None:
    page = reference.configuration_page()
    declared = installed_plugin_settings()
    assert re.findall(r"^## (.+)$", page, re.MULTILINE) == ["Core", *sorted(declared)]
    for plugin, settings in declared.items():
        rows = table_rows(page, plugin)
        assert list(rows) == list(settings), plugin
        for key in settings:
            assert rows[key][3] == f"`AUTHHUB_{plugin.upper()}_{key.upper()}`"


def test_the_variables_the_reference_names_are_the_ones_the_hub_reads(reference: ModuleType, tmp_path: Path) -> None:
    specs = installed_plugin_settings()
    named: list[tuple[str | None, str, Setting]] = [(None, key, setting) for key, setting in CORE_SETTINGS.items()]
    named += [(plugin, key, setting) for plugin, settings in specs.items() for key, setting in settings.items()]
    for plugin, key, setting in named:
        text, expected = ENV_SAMPLES[setting.kind]
        variable = reference.environment_variable(key, plugin)
        settings = load_settings(specs, overrides={}, environ={variable: text}, directory=tmp_path)
        read = settings[key] if plugin is None else settings.section(plugin)[key]
        assert read == expected, f"{variable}={text!r} was read as {read!r}"


def test_the_hook_reference_has_every_hookspec(reference: ModuleType) -> None:
    pm = pluggy.PluginManager("authhub")
    pm.add_hookspecs(hookspecs)
    hooks = sorted(name for name in vars(pm.hook) if not name.startswith("_"))
    page = reference.hooks_page()
    assert hooks, "no hookspecs found"
    for name in hooks:
        assert f"\n::: authhub.hookspecs.{name}\n" in page, name
        assert f"| [`{name}`](#authhub.hookspecs.{name}) |" in page, name
    assert sorted(re.findall(r"^::: authhub\.hookspecs\.(\w+)$", page, re.MULTILINE)) == hooks


def test_the_api_reference_has_every_public_name(reference: ModuleType) -> None:
    page = reference.api_page()
    for name in authhub.__all__:
        assert f"\n::: authhub.{name}\n" in page or f"\n`authhub.{name}`\n: " in page, name


def test_every_marker_of_every_page_resolves(includes: ModuleType) -> None:
    pages = sorted(DOCS.rglob("*.md"))
    expanded = 0
    for path in pages:
        if "example-plugin" in path.parts:
            continue
        page = path.relative_to(DOCS).as_posix()
        markdown = path.read_text(encoding="utf-8")
        text = includes.expand(markdown, page, "https://example.org/repo", lambda name: f"(settings of {name})")
        assert "<!-- authhub:" not in text, page
        expanded += text != markdown
    assert expanded >= 8, "the pages that include the README's sections, SECURITY.md and settings tables"


def test_included_links_are_rewritten_for_the_page(includes: ModuleType) -> None:
    text = (
        "See [the design](docs/design.md#the-public-plugin-api), [hooks](authhub/hookspecs.py),\n"
        "[the CLI](authhub/cli.py), [plugins](plugins/), [RFC](https://www.rfc-editor.org/rfc/rfc7617)"
        " and [below](#tables).\n"
        "```python\nvalue = table[key](argument)\n```\n"
    )
    out = includes.rewrite_links(text, "README.md", "schemes/token.md", "https://example.org/repo")
    assert "[the design](../design.md#the-public-plugin-api)" in out
    assert "[hooks](../reference/hooks.md)" in out
    assert "[the CLI](https://example.org/repo/blob/main/authhub/cli.py)" in out
    assert "[plugins](https://example.org/repo/tree/main/plugins)" in out
    assert "[RFC](https://www.rfc-editor.org/rfc/rfc7617) and [below](#tables)" in out
    assert "value = table[key](argument)" in out


def test_absolute_links_to_a_file_the_site_shows_go_to_its_page(includes: ModuleType) -> None:
    """The README links absolutely (for the package index); on the site its links stay on the site."""
    text = (
        "[the chain](https://example.org/repo/blob/main/docs/chain.md#rules),"
        " [security](https://example.org/repo/blob/main/SECURITY.md),"
        " [the example](https://example.org/repo/tree/main/docs/example-plugin),"
        " [the CLI](https://example.org/repo/blob/main/authhub/cli.py),"
        " [elsewhere](https://example.org/other/blob/main/docs/chain.md)\n"
    )
    out = includes.rewrite_links(text, "README.md", "schemes/token.md", "https://example.org/repo")
    assert "[the chain](../chain.md#rules)" in out
    assert "[security](../security.md)" in out
    assert "[the example](https://example.org/repo/tree/main/docs/example-plugin)" in out
    assert "[the CLI](https://example.org/repo/blob/main/authhub/cli.py)" in out
    assert "[elsewhere](https://example.org/other/blob/main/docs/chain.md)" in out


def test_a_marker_that_cannot_be_expanded_stops_the_build(includes: ModuleType) -> None:
    def no_plugin(name: str) -> str:
        raise LookupError(f"no installed plugin {name!r}")

    cases = {
        '<!-- authhub:include README.md "No such section" -->': "README.md: no heading 'No such section'",
        "<!-- authhub:include NOPE.md -->": "no file NOPE.md",
        "<!-- authhub:settings nope -->": "no installed plugin 'nope'",
    }
    for marker, message in cases.items():
        with pytest.raises(includes.MarkerError, match=re.escape(message)) as error:
            includes.expand(f"# Page\n\n{marker}\n", "page.md", "https://example.org/repo", no_plugin)
        assert str(error.value).startswith("page.md: "), error.value


def test_a_section_ends_at_the_next_heading_of_its_level(includes: ModuleType) -> None:
    text = "# T\n## A\none\n### A.1\ntwo\n```sh\n# not a heading\n```\n## B\nthree\n"
    assert includes.section(text, "A") == "one\n### A.1\ntwo\n```sh\n# not a heading\n```\n"
    assert includes.section(text, "B") == "three\n"
