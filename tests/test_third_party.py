"""The README's third-party scheme, installed with pip, found and run like any other."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import authhub
from authhub import AuthHub

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


def test_readme_example_matches_the_shipped_example():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    source = (EXAMPLE / "src" / "authhub_apikey" / "__init__.py").read_text()
    assert source.strip() in readme
    assert 'apikey = "authhub_apikey"' in readme


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
        "hooks": ["authenticate", "challenge", "scheme_settings"],
        "status": "ok",
        "error": None,
    }
