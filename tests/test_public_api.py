"""The public plugin API: the bundled schemes and the example plugin use ``authhub.__all__`` and nothing else.

A third party can only write a scheme from what authhub documents; the four
bundled schemes and ``docs/example-plugin`` are the proof that it is enough.
The check walks their sources with :mod:`ast` and names every offender with
``file:line``: ``import authhub.x``, ``from authhub.x import ...``,
``from authhub import Name`` and ``authhub.Name`` for a name that is not in
``authhub.__all__`` (also through ``import authhub as alias``,
``getattr(authhub, "Name")`` and ``importlib.import_module("authhub.x")``).
Tests and the core itself may use anything.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

import authhub

ROOT = Path(__file__).parent.parent
PUBLIC = frozenset(authhub.__all__)


def plugin_sources() -> list[Path]:
    """Every ``.py`` file of the plugins' and the example plugin's ``src/`` (never tests, never builds)."""
    roots = [*sorted(ROOT.glob("plugins/*/src")), ROOT / "docs" / "example-plugin" / "src",
             ROOT / "docs" / "metrics-plugin" / "src"]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def _is_internal(module: str) -> bool:
    return module.startswith("authhub.")


class _Boundary(ast.NodeVisitor):
    """Collects ``(line, message)`` for every use of authhub beyond ``__all__`` in one module."""

    def __init__(self, public: Collection[str]) -> None:
        self.public = public
        self.aliases: set[str] = set()  # names bound to the ``authhub`` package itself
        self.found: list[tuple[int, str]] = []

    def _private(self, line: int, name: str, how: str) -> None:
        if name not in self.public:
            self.found.append((line, f"{how}: authhub.{name} is not in authhub.__all__"))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_internal(alias.name):
                self.found.append((node.lineno, f"import {alias.name}: an internal module of authhub"))
            elif alias.name == "authhub":
                self.aliases.add(alias.asname or "authhub")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return  # the plugin's own modules
        if _is_internal(module):
            names = ", ".join(alias.name for alias in node.names)
            self.found.append((node.lineno, f"from {module} import {names}: an internal module of authhub"))
        elif module == "authhub":
            for alias in node.names:
                if alias.name != "*":
                    self._private(node.lineno, alias.name, f"from authhub import {alias.name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in self.aliases:
            self._private(node.lineno, node.attr, f"{node.value.id}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        first = node.args[0] if node.args else None
        second = node.args[1] if len(node.args) > 1 else None
        if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
            if isinstance(first.value, str) and _is_internal(first.value):
                self.found.append((node.lineno, f"{name}({first.value!r}): an internal module of authhub"))
        if (
            name in ("getattr", "hasattr")
            and isinstance(first, ast.Name)
            and first.id in self.aliases
            and isinstance(second, ast.Constant)
            and isinstance(second.value, str)
        ):
            self._private(node.lineno, second.value, f"{name}({first.id}, {second.value!r})")
        self.generic_visit(node)


def offences(source: str, filename: str, public: Collection[str] = PUBLIC) -> list[str]:
    """``file:line: what`` for every use of authhub beyond ``public`` in ``source``."""
    tree = ast.parse(source, filename)
    boundary = _Boundary(public)
    # Imports first, wherever they are (a function-level ``import authhub`` binds the name there too).
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            boundary.visit_Import(node)
    boundary.found.clear()
    boundary.visit(tree)
    return [f"{filename}:{line}: {message}" for line, message in sorted(set(boundary.found))]


def every_offence() -> Iterator[str]:
    for path in plugin_sources():
        yield from offences(path.read_text(), str(path.relative_to(ROOT)))


def test_the_check_looks_at_every_distribution():
    sources = {path.relative_to(ROOT).parts[:2] for path in plugin_sources()}
    expected = {("plugins", name) for name in ("authhub_basic", "authhub_oauth", "authhub_session", "authhub_token")}
    assert expected | {("docs", "example-plugin")} <= sources


def test_plugins_and_the_example_use_only_the_public_api():
    found = list(every_offence())
    assert not found, "beyond the public API (authhub.__all__):\n" + "\n".join(found)


def test_the_check_finds_each_kind_of_offence():
    source = textwrap.dedent(
        """
        import authhub
        import authhub as ah
        import authhub.store
        import authhub.users as users
        from authhub import Request, SQLUserStore, INACTIVE
        from authhub.server import Route
        from authhub import *
        from . import sibling
        import importlib

        if authhub.TYPE_CHECKING:
            from authhub.hub import AuthHub


        @authhub.hookimpl
        def authenticate(request: authhub.Request) -> None:
            authhub.User(1, "x")
            ah.request.RESPONSE_HEADERS
            getattr(authhub, "cli")
            getattr(authhub, "Route")
            importlib.import_module("authhub.cli")
            other.store  # not authhub
        """
    )
    assert offences(source, "x.py") == [
        "x.py:4: import authhub.store: an internal module of authhub",
        "x.py:5: import authhub.users: an internal module of authhub",
        "x.py:6: from authhub import INACTIVE: authhub.INACTIVE is not in authhub.__all__",
        "x.py:7: from authhub.server import Route: an internal module of authhub",
        "x.py:12: authhub.TYPE_CHECKING: authhub.TYPE_CHECKING is not in authhub.__all__",
        "x.py:13: from authhub.hub import AuthHub: an internal module of authhub",
        "x.py:19: ah.request: authhub.request is not in authhub.__all__",
        "x.py:20: getattr(authhub, 'cli'): authhub.cli is not in authhub.__all__",
        "x.py:22: import_module('authhub.cli'): an internal module of authhub",
    ]


def test_a_plugin_named_like_authhub_is_not_authhub():
    source = "import authhub_token\nfrom authhub_token.models import Token\nimport authhubx.store\nauthhub_token.x\n"
    assert offences(source, "y.py") == []


# -- the public names are documented -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(PUBLIC - {"__version__"}))
def test_every_public_name_has_a_docstring(name):
    value = getattr(authhub, name)
    own = vars(value).get("__doc__") if inspect.isclass(value) else inspect.getdoc(value)
    assert own and own.strip(), f"authhub.{name} has no docstring of its own"


def test_every_public_name_is_in_the_reference():
    """docs/design.md lists the whole public API, so a third party finds it in one place."""
    reference = (ROOT / "docs" / "design.md").read_text()
    missing = sorted(name for name in PUBLIC - {"__version__"} if f"`{name}`" not in reference)
    assert not missing, f"docs/design.md does not name: {', '.join(missing)}"


def test_public_names_exist():
    assert all(hasattr(authhub, name) for name in authhub.__all__)
    assert isinstance(authhub.__version__, str)


def test_the_docs_show_only_the_public_api():
    """The Python in docs/writing-a-scheme.md and in docs/design.md parses and stays public."""
    found = []
    for where in ("docs/writing-a-scheme.md", "docs/design.md"):
        text = (ROOT / where).read_text()
        blocks = [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)]
        assert blocks, f"{where} shows no Python"
        for number, block in enumerate(blocks, start=1):
            found.extend(offences("import authhub\n" + block, f"{where} block {number} (line-1)"))
    assert not found, "\n".join(found)
