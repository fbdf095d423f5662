"""Settings of kind ``dict``: a table of strings (``oauth.scope_descriptions``), from every source."""

from __future__ import annotations

from pathlib import Path

import pytest

from authhub import ConfigurationError, Setting
from authhub.config import load_settings

SPECS = {"demo": {"words": Setting({}, kind=dict, help="a table")}}


def words(tmp_path: Path, *, environ: dict[str, str] | None = None, **overrides: object) -> object:
    settings = load_settings(SPECS, overrides=overrides, environ=environ or {}, directory=tmp_path)
    return settings.section("demo")["words"]


def test_the_default_is_an_empty_table(tmp_path: Path) -> None:
    assert words(tmp_path) == {}


def test_a_toml_table(tmp_path: Path) -> None:
    (tmp_path / "authhub.toml").write_text('[demo.words]\nread = "See your profile, and your e-mail"\n')
    assert words(tmp_path) == {"read": "See your profile, and your e-mail"}


def test_a_json_object_in_the_environment(tmp_path: Path) -> None:
    environ = {"AUTHHUB_DEMO_WORDS": '{"read": "See your profile, and your e-mail", "write": "Change it"}'}
    assert words(tmp_path, environ=environ) == {"read": "See your profile, and your e-mail", "write": "Change it"}


def test_keyword_arguments_are_copied(tmp_path: Path) -> None:
    given = {"read": "See"}
    read = words(tmp_path, demo={"words": given})
    given["read"] = "changed later"
    assert read == {"read": "See"}


@pytest.mark.parametrize(("environ", "overrides", "message"), [
    ({"AUTHHUB_DEMO_WORDS": "read=See"}, {}, "demo.words: expected a table of strings"),
    ({"AUTHHUB_DEMO_WORDS": '["read"]'}, {}, "demo.words: expected a table of strings"),
    ({"AUTHHUB_DEMO_WORDS": '{"read": 1}'}, {}, "demo.words: expected a table of strings, got {'read': 1}"),
    ({}, {"demo": {"words": {"read": ["a"]}}}, "demo.words: expected a table of strings"),
    ({}, {"demo": {"words": "read=See"}}, "demo.words: expected a table of strings"),
], ids=["not-json", "json-list", "json-number", "list-value", "string"])
def test_anything_else_is_refused_naming_the_setting(
    tmp_path: Path, environ: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("{", r"\{")):
        words(tmp_path, environ=environ, **overrides)
