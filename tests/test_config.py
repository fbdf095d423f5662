"""Settings precedence and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import authhub
from authhub import AuthHub, Setting


class Configurable:
    @authhub.hookimpl
    def authenticate(self) -> Any:
        return None

    @authhub.hookimpl
    def scheme_settings(self) -> dict[str, Setting]:
        return {
            "realm": Setting("api"),
            "cache_ttl": Setting(0.0, kind=float),
            "size": Setting(10, kind=int),
            "strict": Setting(True, kind=bool),
            "origins": Setting([], kind=list),
            "keyword": Setting(None, nullable=True),
        }


def make(tmp_path: Path, environ: dict[str, str] | None = None, **settings: Any) -> AuthHub:
    return AuthHub(
        directory=tmp_path, environ=environ or {}, load_entry_points=False, plugins={"demo": Configurable()}, **settings
    )


def test_defaults(tmp_path):
    hub = make(tmp_path)
    assert hub.settings["database_url"] == "sqlite:///authhub.db"
    assert hub.settings["schemes"] is None
    assert dict(hub.settings.section("demo")) == {
        "realm": "api",
        "cache_ttl": 0.0,
        "size": 10,
        "strict": True,
        "origins": [],
        "keyword": None,
    }


def test_precedence_kwargs_env_authhub_toml_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.authhub]\ndatabase_url = "sqlite:///from-pyproject.db"\n'
        '[tool.authhub.demo]\nrealm = "pyproject"\nsize = 1\nstrict = false\ncache_ttl = 1\n'
    )
    hub = make(tmp_path)
    assert hub.settings["database_url"] == "sqlite:///from-pyproject.db"
    assert hub.settings.section("demo")["cache_ttl"] == 1.0

    (tmp_path / "authhub.toml").write_text(
        'database_url = "sqlite:///from-toml.db"\n[demo]\nrealm = "toml"\nsize = 2\n'
    )
    hub = make(tmp_path)
    assert hub.settings["database_url"] == "sqlite:///from-toml.db"
    assert hub.settings.section("demo")["realm"] == "toml"
    assert hub.settings.section("demo")["size"] == 2
    assert hub.settings.section("demo")["strict"] is False  # still from pyproject

    environ = {
        "AUTHHUB_DATABASE_URL": "sqlite:///from-env.db",
        "AUTHHUB_DEMO_REALM": "env",
        "AUTHHUB_DEMO_ORIGINS": "https://a.example, https://b.example",
        "AUTHHUB_DEMO_STRICT": "yes",
    }
    hub = make(tmp_path, environ)
    assert hub.settings["database_url"] == "sqlite:///from-env.db"
    assert hub.settings.section("demo")["realm"] == "env"
    assert hub.settings.section("demo")["origins"] == ["https://a.example", "https://b.example"]
    assert hub.settings.section("demo")["strict"] is True
    assert hub.settings.section("demo")["size"] == 2

    hub = make(tmp_path, environ, database_url="sqlite:///from-kwargs.db", demo={"realm": "kwargs"})
    assert hub.settings["database_url"] == "sqlite:///from-kwargs.db"
    assert hub.settings.section("demo")["realm"] == "kwargs"
    assert hub.settings.sources["demo.realm"] == "keyword arguments"


def test_schemes_from_the_environment(tmp_path):
    hub = make(tmp_path, {"AUTHHUB_SCHEMES": "demo"})
    assert hub.schemes == ("demo",)


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    (tmp_path / "authhub.toml").write_text('databse_url = "x"\n')
    with pytest.raises(authhub.ConfigurationError) as info:
        make(tmp_path)
    assert "'databse_url'" in str(info.value)
    assert "authhub.toml" in str(info.value)


def test_unknown_plugin_key_names_the_section(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.authhub.demo]\nrelm = 'x'\n")
    with pytest.raises(authhub.ConfigurationError, match=r"'demo\.relm'.*pyproject\.toml"):
        make(tmp_path)


def test_section_for_a_plugin_that_is_not_installed(tmp_path):
    (tmp_path / "authhub.toml").write_text("[ldap]\nserver = 'x'\n")
    with pytest.raises(authhub.ConfigurationError, match="'ldap'"):
        make(tmp_path)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[demo]\nsize = 'ten'\n", r"demo\.size: expected an integer, got str 'ten'"),
        ("[demo]\nsize = true\n", r"demo\.size: expected an integer"),
        ("[demo]\nstrict = 1\n", r"demo\.strict: expected a boolean"),
        ("[demo]\norigins = 'https://x'\n", r"demo\.origins: expected a list of strings"),
        ("schemes = 'demo'\n", r"schemes: expected a list of strings"),
        ("demo = 3\n", r"demo: expected a table"),
    ],
)
def test_wrong_types_are_refused_with_the_source(tmp_path, toml, message):
    (tmp_path / "authhub.toml").write_text(toml)
    with pytest.raises(authhub.ConfigurationError, match=message) as info:
        make(tmp_path)
    assert "authhub.toml" in str(info.value)


def test_wrong_types_from_the_environment(tmp_path):
    with pytest.raises(authhub.ConfigurationError, match="AUTHHUB_DEMO_SIZE"):
        make(tmp_path, {"AUTHHUB_DEMO_SIZE": "many"})
    with pytest.raises(authhub.ConfigurationError, match="AUTHHUB_DEMO_STRICT"):
        make(tmp_path, {"AUTHHUB_DEMO_STRICT": "perhaps"})


def test_unknown_environment_variable(tmp_path):
    with pytest.raises(authhub.ConfigurationError, match="AUTHHUB_DATABASE_URI"):
        make(tmp_path, {"AUTHHUB_DATABASE_URI": "sqlite://"})


def test_switches_are_not_settings(tmp_path):
    hub = make(tmp_path, {"AUTHHUB_BLOCK_PLUGINS": "x", "AUTHHUB_TRACE_HOOKS": ""})
    assert hub.schemes == ("demo",)


def test_invalid_toml(tmp_path):
    (tmp_path / "authhub.toml").write_text("schemes = [\n")
    with pytest.raises(authhub.ConfigurationError, match="not valid TOML"):
        make(tmp_path)


def test_nullable_settings_accept_empty(tmp_path):
    hub = make(tmp_path, {"AUTHHUB_UNAUTHENTICATED_USER": ""})
    assert hub.settings["unauthenticated_user"] is None
    assert hub.authenticate(authhub.Request("GET", "/")).user is None


def test_trusted_proxies_must_be_addresses(tmp_path):
    with pytest.raises(authhub.ConfigurationError, match="trusted_proxies"):
        make(tmp_path, trusted_proxies=["not-an-ip"])
