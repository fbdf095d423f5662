"""Every hook is documented like a reference page, and the README names it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from authhub import hookspecs
from authhub.plugins import new_manager

HOOKS = sorted(
    name for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(function, "authhub_spec")
)


def test_the_manager_knows_every_hook():
    pm = new_manager()
    assert HOOKS == sorted(name for name in vars(pm.hook) if not name.startswith("_"))
    assert {"authenticate", "token_model"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_documented(name):
    function = getattr(hookspecs, name)
    doc = inspect.getdoc(function)
    assert doc and len(doc.splitlines()) >= 3, f"{name} needs a reference-page docstring"
    for parameter in inspect.signature(function).parameters:
        assert f":param {parameter}:" in doc, f"{name}: argument {parameter!r} is not documented"
    if function.authhub_spec["firstresult"]:
        assert "Stops at first non-None result." in doc
    assert name in (Path(__file__).parent.parent / "README.md").read_text(), f"README does not name {name}"
