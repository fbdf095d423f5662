"""What a release promises: CI runs the README's test command, one version, a license, a changelog.

The built files themselves (all five sdists and wheels) are checked by ``.ci/wheels`` (tox ``dist``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import authhub

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def readme_test_command() -> str:
    """The one-line shell block in "Two commands" that runs tox."""
    section = README[README.index("## Two commands"):]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    (command,) = [block.strip() for block in blocks if "tox" in block]
    assert "\n" not in command, command
    return command


def test_ci_runs_the_readme_test_command_verbatim_and_last() -> None:
    command = readme_test_command()
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert command in lines, f".ci/run does not run the README's test command: {command}"
    code = [line for line in lines if line and not line.startswith("#")]
    assert code[-1] == command, ".ci/run must end with the README's test command, so its exit status is CI's"


def test_the_readme_says_what_the_test_command_needs_in_the_line_above() -> None:
    command = readme_test_command()
    before = README[: README.index(f"```sh\n{command}")].rstrip("\n").splitlines()[-1]
    for needed in ("PostgreSQL", "Redis", "nginx", "Chromium"):
        assert needed in before, f"the line above the test command does not name {needed}: {before}"


def test_the_version_is_written_once_and_read_from_the_metadata() -> None:
    assert PROJECT["name"] == "authhub-core"
    assert authhub.__version__ == PROJECT["version"]
    assert "version" not in PROJECT.get("dynamic", [])


def test_the_changelog_has_a_section_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (\d+\.\d+\.\d+) ", changelog, re.M)
    assert headings and headings[0] == PROJECT["version"], headings


def test_the_license_is_mit_and_ships_in_the_distribution() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "authhub developers" in text
    assert (PROJECT["license"], PROJECT["license-files"]) == ("MIT", ["LICENSE"])


def test_the_readme_has_no_relative_links_that_break_on_the_package_index() -> None:
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", README) + re.findall(r"(?:href|src)=[\"']([^\"']+)", README)
    relative = [target for target in targets if not re.match(r"(https?:|mailto:)", target)]
    assert targets and not relative, relative
