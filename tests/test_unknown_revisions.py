"""A database whose tables were made by a plugin that is now uninstalled or blocked: a clear error, no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import authhub
from authhub.cli import cli
from authhub.testing import hub_for_tests


class OwnTables:
    """A plugin shipping one migration branch of its own."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    @authhub.hookimpl
    def migration_directory(self) -> str:
        return self.directory


@pytest.fixture
def branch(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "extra_0001.py").write_text(
        '"""A table of the extra plugin."""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        'revision = "extra_0001"\ndown_revision = None\nbranch_labels = ("extra",)\ndepends_on = "authhub_0001"\n\n'
        'def upgrade():\n    op.create_table("extra_thing", sa.Column("id", sa.Integer, primary_key=True))\n\n'
        'def downgrade():\n    op.drop_table("extra_thing")\n'
    )
    return str(versions)


def test_a_hub_without_the_plugin_that_made_tables_is_told_which_revisions(tmp_path, branch):
    with_it = hub_for_tests(tmp_path, load_entry_points=False, plugins={"extra": OwnTables(branch)})
    with_it.upgrade()
    with_it.close()
    without = hub_for_tests(tmp_path, load_entry_points=False)
    try:
        with pytest.raises(authhub.ConfigurationError, match=r"extra_0001.*AUTHHUB_BLOCK_PLUGINS"):
            without.upgrade()
    finally:
        without.close()


def test_authhub_db_upgrade_says_it_in_one_line(tmp_path, branch, monkeypatch):
    with_it = hub_for_tests(tmp_path, load_entry_points=False, plugins={"extra": OwnTables(branch)})
    with_it.upgrade()
    with_it.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTHHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'authhub.db'}")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "extra_0001" in result.output
    assert "Traceback" not in result.output


def test_argon2_parameters_that_cannot_hash_are_a_configuration_error(tmp_path):
    hub = hub_for_tests(tmp_path, load_entry_points=False, password_memory_cost=8, password_parallelism=4)
    try:
        with pytest.raises(authhub.ConfigurationError, match="password_memory_cost: must be at least 8 KiB per lane"):
            hub.users.create("alice", "pw")
    finally:
        hub.close()
