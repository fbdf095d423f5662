"""Discovery through real installed distributions, and refusing plugins that do not fit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import authhub
from authhub import AuthHub

from .distributions import GOOD_SCHEME, install, unique


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    return directory


def hub(tmp_path: Path, environ: dict[str, str] | None = None, **settings: Any) -> AuthHub:
    return AuthHub(directory=tmp_path, environ=environ or {}, **settings)


def test_installed_scheme_is_found_by_its_entry_point(tmp_path, site):
    module = unique("hello_scheme")
    install(site, "authhub-hello", "1.2.3", {"hello": module}, {module: GOOD_SCHEME.format(name="hello")})
    found = hub(tmp_path)
    info = next(info for info in found.plugins if info.name == "hello")
    assert (info.distribution, info.version, info.status, info.hooks) == (
        "authhub-hello",
        "1.2.3",
        "ok",
        ("authenticate",),
    )
    assert "hello" in found.schemes
    request = authhub.Request("GET", "/", [("X-Hello", "let-me-in")])
    assert found.authenticate(request).user.username == "hello-user"


def test_a_broken_plugin_is_reported_and_does_not_take_the_others_down(tmp_path, site):
    good = unique("good_scheme")
    install(site, "authhub-good", "1.0", {"good": good}, {good: GOOD_SCHEME.format(name="good")})
    install(site, "authhub-missing", "0.1", {"missing": unique("no_such_module")})
    broken = unique("broken_scheme")
    install(site, "authhub-broken", "0.2", {"broken": broken}, {broken: "raise RuntimeError('cannot start')\n"})
    badattr = unique("attr_scheme")
    install(site, "authhub-badattr", "0.3", {"badattr": f"{badattr}:nothing"}, {badattr: "x = 1\n"})

    found = hub(tmp_path)
    infos = {info.name: info for info in found.plugins}
    assert infos["good"].status == "ok"
    assert infos["missing"].status == "error"
    assert "ModuleNotFoundError" in infos["missing"].error
    assert infos["broken"].error == "RuntimeError: cannot start"
    assert "AttributeError" in infos["badattr"].error
    # Unconfigured, the chain is every scheme that loaded.
    assert "good" in found.schemes and "broken" not in found.schemes

    with pytest.raises(authhub.ConfigurationError, match="'broken' is configured but failed to load: RuntimeError"):
        hub(tmp_path, schemes=["good", "broken"])


def test_block_switch_skips_installed_plugins(tmp_path, site):
    module = unique("blocked_scheme")
    install(site, "authhub-blocked", "1.0", {"blocked": module}, {module: GOOD_SCHEME.format(name="blocked")})
    assert "blocked" in hub(tmp_path).schemes
    blocked = hub(tmp_path, {"AUTHHUB_BLOCK_PLUGINS": "other, blocked"})
    assert "blocked" not in [info.name for info in blocked.plugins]


def test_two_distributions_with_one_name(tmp_path, site):
    first, second = unique("first"), unique("second")
    install(site, "authhub-first", "1.0", {"dup": first}, {first: GOOD_SCHEME.format(name="a")})
    install(site, "authhub-second", "1.0", {"dup": second}, {second: GOOD_SCHEME.format(name="b")})
    infos = [info for info in hub(tmp_path).plugins if info.name == "dup"]
    assert sorted(info.status for info in infos) == ["error", "ok"]
    assert "already taken" in next(info.error for info in infos if info.error)


def test_plugin_implementing_an_unknown_hook_is_refused(tmp_path):
    class Typo:
        @authhub.hookimpl
        def authentiate(self, request: Any) -> None:
            return None

    with pytest.raises(authhub.PluginError, match=r"plugin 'typo'.*authentiate"):
        hub(tmp_path, load_entry_points=False, plugins={"typo": Typo()})


def test_scheme_object_implementing_an_unknown_hook_is_refused(tmp_path):
    class TypoScheme(authhub.Scheme):
        @authhub.hookimpl
        def authentiate(self, request: Any) -> None:
            return None

    class Plugin:
        @authhub.hookimpl
        def create_scheme(self, hub: Any, name: str, settings: Any) -> TypoScheme:
            return TypoScheme(hub, name, settings)

    with pytest.raises(authhub.ConfigurationError, match=r"plugin 'typo'.*authentiate"):
        hub(tmp_path, load_entry_points=False, plugins={"typo": Plugin()})


def test_plugin_with_arguments_the_spec_lacks_is_refused(tmp_path):
    class Extra:
        @authhub.hookimpl
        def authenticate(self, request: Any, session: Any) -> None:
            return None

    with pytest.raises(authhub.PluginError, match=r"(?s)plugin 'extra'.*session"):
        hub(tmp_path, load_entry_points=False, plugins={"extra": Extra()})


class One:
    @authhub.hookimpl
    def authenticate(self) -> Any:
        return authhub.User(1, "one"), None


def test_a_plugin_in_code_taking_an_installed_name_is_refused(tmp_path, site):
    module = unique("taken_scheme")
    install(site, "authhub-taken", "1.0", {"one": module}, {module: GOOD_SCHEME.format(name="one")})
    with pytest.raises(authhub.PluginError, match="'one': the name is already taken"):
        hub(tmp_path, plugins={"one": One()})


def test_one_object_under_two_names_is_refused(tmp_path):
    plugin = One()
    with pytest.raises(authhub.PluginError, match="'two': this object is already registered as 'one'"):
        hub(tmp_path, load_entry_points=False, plugins={"one": plugin, "two": plugin})


def test_plugins_given_in_code_are_part_of_the_hub_from_the_start(tmp_path):
    """A hub is complete once built; another set of plugins is another hub (no ``register`` afterwards)."""
    bare = hub(tmp_path, load_entry_points=False)
    assert bare.schemes == ()
    assert not hasattr(bare, "register")
    found = hub(tmp_path, load_entry_points=False, plugins={"late": One()})
    assert found.schemes == ("late",)
    assert found.authenticate(authhub.Request("GET", "/")).scheme == "late"
    assert bare.authenticate(authhub.Request("GET", "/")).scheme is None


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authhub", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_plugins_command_lists_real_distributions_in_chain_order(tmp_path, site):
    first, second = unique("one_scheme"), unique("two_scheme")
    install(site, "authhub-one", "1.0", {"one": first}, {first: GOOD_SCHEME.format(name="one")})
    install(site, "authhub-two", "2.0", {"two": second}, {second: GOOD_SCHEME.format(name="two")})
    install(site, "authhub-bad", "0.1", {"bad": unique("absent")})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), "AUTHHUB_SCHEMES": "two,one"}
    env.pop("AUTHHUB_BLOCK_PLUGINS", None)
    result = run_cli("plugins", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["two"]["position"] == 1 and rows["one"]["position"] == 2
    assert rows["one"] == {
        "name": "one",
        "distribution": "authhub-one",
        "version": "1.0",
        "position": 2,
        "hooks": ["authenticate"],
        "status": "ok",
        "error": None,
    }
    assert rows["bad"]["status"] == "error" and rows["bad"]["position"] is None
    assert "ModuleNotFoundError" in rows["bad"]["error"]

    # Even a chain naming the broken plugin still lists everything, exit 0.
    env["AUTHHUB_SCHEMES"] = "bad,one"
    result = run_cli("plugins", cwd=tmp_path, env=env)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["SCHEME", "DISTRIBUTION", "VERSION", "POSITION"]
    assert lines[1].split()[:4] == ["bad", "authhub-bad", "0.1", "1"]
    assert "error: ModuleNotFoundError" in lines[1]
    assert lines[2].split()[:4] == ["one", "authhub-one", "1.0", "2"]


def test_trace_switch_prints_hook_calls(tmp_path, site):
    module = unique("traced")
    install(site, "authhub-traced", "1.0", {"traced": module}, {module: GOOD_SCHEME.format(name="traced")})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), "AUTHHUB_TRACE_HOOKS": "1"}
    result = run_cli("plugins", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert "authhub:   register_commands [hook]" in result.stderr
    assert "authhub:   finish register_commands" in result.stderr
    quiet = run_cli("plugins", "--json", cwd=tmp_path, env={**env, "AUTHHUB_TRACE_HOOKS": ""})
    assert "[hook]" not in quiet.stderr
