"""The documented third-party scheme (docs/writing-a-scheme.md), installed with pip, found and run like any other."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import authhub
from authhub import AuthHub
from authhub.testing import FAST_HASHING

from .distributions import GOOD_SCHEME, install, unique

EXAMPLE = Path(__file__).parent.parent / "docs" / "example-plugin"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` the example distribution into a fresh target directory."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(EXAMPLE)],
        check=True,
        timeout=300,
    )
    return site


@pytest.fixture
def site(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(example_site))
    return example_site


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_documented_example_matches_the_shipped_example():
    page = (Path(__file__).parent.parent / "docs" / "writing-a-scheme.md").read_text()
    source = (EXAMPLE / "src" / "authhub_apikey" / "__init__.py").read_text()
    assert source.strip() in page
    assert 'apikey = "authhub_apikey"' in page


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_design_page_quotes_the_shipped_example():
    """docs/design.md shows the example in excerpts: each one word for word from the shipped source."""
    design = (Path(__file__).parent.parent / "docs" / "design.md").read_text()
    source = (EXAMPLE / "src" / "authhub_apikey" / "__init__.py").read_text()
    blocks = python_blocks(design)
    assert len(blocks) >= 3
    for block in blocks:
        assert block in source, f"docs/design.md quotes what the example does not say:\n{block}"
    for shape in ("create_scheme", "position", "openapi", "@authhub.hookimpl"):
        assert any(shape in block for block in blocks)


def test_pip_installed_scheme_answers_requests(tmp_path, site):
    environ = {"AUTHHUB_SCHEMES": "apikey", "AUTHHUB_APIKEY_KEYS": f"robot:{digest('k-123')}"}
    hub = AuthHub(directory=tmp_path, environ=environ)
    info = next(info for info in hub.plugins if info.name == "apikey")
    assert (info.distribution, info.version, info.status) == ("authhub-apikey", "1.0.0", "ok")

    identity = hub.authenticate(authhub.Request("GET", "/", [("X-API-Key", "k-123")]))
    assert (identity.scheme, identity.user.username) == ("apikey", "robot")
    with pytest.raises(authhub.AuthenticationFailed, match="Invalid API key."):
        hub.authenticate(authhub.Request("GET", "/", [("X-API-Key", "k-124")]))
    assert hub.authenticate(authhub.Request("GET", "/")).scheme is None
    assert hub.challenges(authhub.Request("GET", "/"), None) == ['ApiKey header="X-API-Key"']
    described = {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key."}
    assert hub.openapi("apikey") == described


def test_it_is_a_scheme_object_per_hub(tmp_path, site):
    import authhub_apikey

    assert authhub_apikey.__version__ == "1.0.0"
    alone = {"AUTHHUB_BLOCK_PLUGINS": "basic,oauth,session,token"}  # what is collected is up to the example only
    first = AuthHub(directory=tmp_path, environ={**alone, "AUTHHUB_APIKEY_KEYS": f"robot:{digest('k-123')}"})
    second = AuthHub(directory=tmp_path, environ={**alone, "AUTHHUB_APIKEY_KEYS": f"robot:{digest('k-456')}"})
    assert isinstance(first.scheme_object("apikey"), authhub_apikey.ApiKeyScheme)
    assert first.scheme_object("apikey") is not second.scheme_object("apikey")
    assert first.authenticate(authhub.Request("GET", "/", [("X-API-Key", "k-123")])).scheme == "apikey"
    with pytest.raises(authhub.AuthenticationFailed):
        second.authenticate(authhub.Request("GET", "/", [("X-API-Key", "k-123")]))
    info = next(info for info in first.plugins if info.name == "apikey")
    assert info.hooks == ("authenticate", "challenge", "create_scheme", "scheme_settings")

    reference = weakref.ref(first)
    del first
    gc.collect()
    assert reference() is None


def test_its_users_have_distinct_stable_ids(tmp_path, site):
    """A robot's id names the scheme: never the id of a user in the user store (it used to be 1, like the first)."""
    keys = f"robot:{digest('k-123')},deploy:{digest('k-456')},robot:{digest('k-789')}"
    environ = {"AUTHHUB_SCHEMES": "apikey", "AUTHHUB_APIKEY_KEYS": keys}
    settings = {"database_url": f"sqlite:///{tmp_path / 'users.db'}", **FAST_HASHING}
    hub = AuthHub(directory=tmp_path, environ=environ, **settings)
    hub.upgrade()
    first_user = hub.users.create("robot", "pw")

    def user_for(one: AuthHub, key: str) -> authhub.UserLike:
        return one.authenticate(authhub.Request("GET", "/", [("X-API-Key", key)])).user

    robot, deploy, rotated = (user_for(hub, key) for key in ("k-123", "k-456", "k-789"))
    assert (robot.id, robot.username) == ("apikey:robot", "robot")
    assert deploy.id == "apikey:deploy"
    assert rotated == robot  # a second key of the same robot is the same user
    assert robot.id != first_user.id and str(robot.id) != str(first_user.id)
    assert hub.users.get(robot.id) is None  # not a user of the store, under any form of its id
    # Stable: another hub (another process) with the keys in another order gives the same ids.
    reversed_keys = ",".join(reversed(keys.split(",")))
    reordered = AuthHub(directory=tmp_path, environ={**environ, "AUTHHUB_APIKEY_KEYS": reversed_keys}, **settings)
    assert user_for(reordered, "k-123") == robot and user_for(reordered, "k-456") == deploy


@pytest.mark.parametrize("entry", ["robot", f"robot:{digest('k')[:-1]}", f":{digest('k')}", "robot:XYZ"])
def test_a_malformed_key_stops_the_hub_naming_the_plugin(tmp_path, site, entry):
    with pytest.raises(authhub.ConfigurationError) as info:
        AuthHub(directory=tmp_path, environ={"AUTHHUB_APIKEY_KEYS": f"robot:{digest('k-1')},{entry}"})
    assert str(info.value) == "plugin 'apikey': apikey.keys: entry 2 is not user:sha256-hex-of-key"


def test_its_default_position_is_before_a_scheme_without_one(tmp_path, site, monkeypatch):
    other = tmp_path / "other-site"
    other.mkdir()
    module = unique("hello_scheme")
    install(other, "authhub-hello", "1.0", {"hello": module}, {module: GOOD_SCHEME.format(name="hello")})
    monkeypatch.syspath_prepend(str(other))
    hub = AuthHub(directory=tmp_path, environ={"AUTHHUB_BLOCK_PLUGINS": "basic,token,session,oauth"})
    assert hub.schemes == ("apikey", "hello")


def test_position_in_the_chain_changes_the_answer(tmp_path, site, monkeypatch):
    other = tmp_path / "other-site"
    other.mkdir()
    module = unique("hello_scheme")
    install(other, "authhub-hello", "1.0", {"hello": module}, {module: GOOD_SCHEME.format(name="hello")})
    monkeypatch.syspath_prepend(str(other))
    request_headers = [("X-API-Key", "k-123"), ("X-Hello", "let-me-in")]
    keys = f"robot:{digest('k-123')}"

    first = AuthHub(directory=tmp_path, environ={"AUTHHUB_SCHEMES": "apikey,hello", "AUTHHUB_APIKEY_KEYS": keys})
    assert first.authenticate(authhub.Request("GET", "/", request_headers)).scheme == "apikey"
    second = AuthHub(directory=tmp_path, environ={"AUTHHUB_SCHEMES": "hello,apikey", "AUTHHUB_APIKEY_KEYS": keys})
    assert second.authenticate(authhub.Request("GET", "/", request_headers)).scheme == "hello"


def test_plugins_command_lists_the_pip_installed_scheme(tmp_path, site):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), "AUTHHUB_SCHEMES": "apikey"}
    result = subprocess.run(
        [sys.executable, "-m", "authhub", "plugins", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    row = next(row for row in json.loads(result.stdout) if row["name"] == "apikey")
    assert row == {
        "name": "apikey",
        "distribution": "authhub-apikey",
        "version": "1.0.0",
        "position": 1,
        "hooks": ["authenticate", "challenge", "create_scheme", "scheme_settings"],
        "status": "ok",
        "error": None,
    }
