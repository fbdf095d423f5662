"""``authhub db upgrade | current | history``: what was applied, where each branch is, what exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result

from authhub import revisions
from authhub.cli import cli
from authhub.store import migration_config
from authhub.testing import hub_for_tests


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    path = tmp_path / "db.sqlite"
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", f"sqlite:///{path}")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def installed(path: Path) -> list[str]:
    """Every installed revision, in an order they can be applied (the hub sees the same plugins as the CLI)."""
    hub = hub_for_tests(path.parent, database_url=f"sqlite:///{path}")
    try:
        return [script.revision for script in reversed(list(revisions.scripts(hub).walk_revisions()))]
    finally:
        hub.close()


def upgrade_to(path: Path, target: str) -> None:
    hub = hub_for_tests(path.parent, database_url=f"sqlite:///{path}")
    try:
        with hub.store.connect() as connection:
            config = migration_config(hub.migration_directories())
            config.attributes["connection"] = connection
            command.upgrade(config, target)
    finally:
        hub.close()


def test_upgrade_lists_what_it_applied(database):
    everything = installed(database)
    first = invoke("db", "upgrade")
    assert first.exit_code == 0, first.output
    applied = first.stdout.removeprefix("applied: ").split()
    assert first.stdout.startswith("applied: ") and sorted(applied) == sorted(everything)
    assert applied.index("authhub_0001") < applied.index("authhub_0002") < applied.index("authhub_0003")

    second = invoke("db", "upgrade")
    assert second.exit_code == 0
    assert second.stdout == "already up to date\n"


def test_upgrade_lists_only_the_missing_revisions(database):
    upgrade_to(database, "authhub_0001")
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    applied = result.stdout.removeprefix("applied: ").split()
    assert sorted(applied) == sorted(set(installed(database)) - {"authhub_0001"})
    assert applied.index("authhub_0002") < applied.index("authhub_0003")


def test_current_shows_each_branch_and_what_is_missing(database):
    upgrade_to(database, "authhub_0002")
    behind = invoke("db", "current")
    assert behind.exit_code == 0, behind.output
    assert behind.stdout == "authhub_0002\n"
    assert behind.stderr.startswith("not up to date (missing ")
    assert "authhub_0003" in behind.stderr and behind.stderr.endswith("run 'authhub db upgrade'\n")

    assert invoke("db", "upgrade").exit_code == 0
    current = invoke("db", "current")
    assert current.exit_code == 0
    heads = [line.removesuffix(" (head)") for line in current.stdout.splitlines()]
    assert all(line.endswith(" (head)") for line in current.stdout.splitlines())
    assert "authhub_0003" in heads
    hub = hub_for_tests(database.parent, database_url=f"sqlite:///{database}")
    assert sorted(heads) == sorted(revisions.scripts(hub).get_heads())
    hub.close()
    assert current.stderr == ""


def test_history_covers_every_installed_branch_without_a_database(database):
    result = invoke("db", "history")
    assert result.exit_code == 0, result.output
    assert "authhub_0002 -> authhub_0003 (authhub) (head)" in result.stdout
    assert "<base> -> authhub_0001 (authhub)" in result.stdout
    for revision in installed(database):
        assert f"-> {revision} " in result.stdout
    assert not database.exists()
