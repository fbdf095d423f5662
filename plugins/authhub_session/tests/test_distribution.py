"""The installed distribution: entry point, migrations, typing, discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import importlib_metadata
from alembic.script import ScriptDirectory

import authhub
import authhub_session
from authhub.store import migration_config


def test_entry_point_names_the_scheme() -> None:
    (entry_point,) = [ep for ep in importlib_metadata.entry_points(group="authhub") if ep.name == "session"]
    assert entry_point.value == "authhub_session"
    assert entry_point.dist.name == "authhub-session"
    assert entry_point.load() is authhub_session


def test_an_installed_hub_finds_the_scheme(tmp_path: Path) -> None:
    hub = authhub.AuthHub(directory=tmp_path, environ={}, database_url=f"sqlite:///{tmp_path / 'a.db'}")
    assert "session" in hub.schemes
    (info,) = [info for info in hub.plugins if info.name == "session"]
    assert info.distribution == "authhub-session" and info.version == "0.2.0"
    assert {"authenticate", "auth_headers", "create_scheme", "migration_directory", "serve_routes",
            "register_commands", "scheme_settings", "user_changed"} <= set(info.hooks)
    assert "challenge" not in info.hooks  # no WWW-Authenticate challenge
    hub.close()


def test_migrations_are_their_own_branch() -> None:
    script = ScriptDirectory.from_config(migration_config([authhub_session.migration_directory()]))
    head = script.get_revision("session@head")
    assert head.revision == "authhub_session_0002"
    assert head.down_revision == "authhub_session_0001"
    base = script.get_revision("authhub_session_0001")
    assert base.branch_labels == {"session"}
    assert base.down_revision is None
    assert base.dependencies == "authhub_0001"


def test_ships_py_typed() -> None:
    assert (Path(authhub_session.__file__).parent / "py.typed").is_file()


def test_plugins_command_lists_it(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHHUB_")}
    result = subprocess.run([sys.executable, "-m", "authhub", "plugins", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (row,) = [row for row in json.loads(result.stdout) if row["name"] == "session"]
    assert row["distribution"] == "authhub-session" and row["status"] == "ok"
