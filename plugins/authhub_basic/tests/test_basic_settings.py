"""Settings, the challenge, the installed entry point and the test-credentials hook."""

from __future__ import annotations

import importlib.metadata
import importlib.resources

import pytest

import authhub
import authhub_basic
from authhub.http import error_response
from authhub_basic import BasicScheme, BasicSettings

from .conftest import PASSWORD, basic, request


def challenge_lines(hub: authhub.AuthHub, authorization: str | None = None, **headers: str) -> list[str]:
    req = request(hub, authorization, **headers)
    try:
        hub.authenticate(req)
        error: authhub.AuthhubError = authhub.NotAuthenticated()
    except authhub.AuthhubError as refused:
        error = refused
    response = error_response(hub, req, error)
    assert response.status == 401
    return [value for name, value in response.headers if name == "WWW-Authenticate"]


def test_the_default_challenge(hub, alice):
    assert challenge_lines(hub, basic("alice", "wrong")) == ['Basic realm="api", charset="UTF-8"']
    assert challenge_lines(hub) == ['Basic realm="api", charset="UTF-8"']


def test_the_realm_from_keyword_arguments(make_hub):
    hub = make_hub(basic={"realm": "billing"})
    assert challenge_lines(hub) == ['Basic realm="billing", charset="UTF-8"']


def test_the_realm_from_the_environment(make_hub):
    hub = make_hub(environ={"AUTHHUB_BASIC_REALM": "from env", "AUTHHUB_BASIC_CACHE_TTL": "2.5"})
    assert challenge_lines(hub) == ['Basic realm="from env", charset="UTF-8"']
    assert hub.settings.section("basic")["cache_ttl"] == 2.5


def test_the_realm_from_pyproject(make_hub, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.authhub.basic]\nrealm = "toml realm"\ncache_size = 7\n')
    hub = make_hub()
    assert challenge_lines(hub) == ['Basic realm="toml realm", charset="UTF-8"']
    assert hub.settings.section("basic")["cache_size"] == 7


def test_quotes_and_backslashes_in_the_realm_are_escaped(make_hub):
    hub = make_hub(basic={"realm": 'say "hi" \\o/'})
    assert challenge_lines(hub) == ['Basic realm="say \\"hi\\" \\\\o/", charset="UTF-8"']


def test_a_realm_with_a_control_character_is_a_configuration_error(make_hub):
    # Checked once, when the hub is built: a hub that cannot send its challenge never starts.
    with pytest.raises(authhub.ConfigurationError) as caught:
        make_hub(basic={"realm": "bad\r\nSet-Cookie: x=y"})
    assert caught.value.detail == "plugin 'basic': basic.realm: must not contain control characters"


def test_script_clients_get_xbasic(hub):
    assert challenge_lines(hub, X_Requested_With="XMLHttpRequest") == ['xBasic realm="api", charset="UTF-8"']


@pytest.mark.parametrize("section, message", [
    ({"cache_ttl": -1}, "basic.cache_ttl: must be 0 (off) or a number of seconds, got -1.0"),
    ({"cache_ttl": 5, "cache_size": 0}, "basic.cache_size: must be at least 1, got 0"),
    ({"max_header_size": 4}, "basic.max_header_size: must be at least 16, got 4"),
])
def test_out_of_range_settings_fail_closed_with_a_clear_message(make_hub, section, message):
    # The hub refuses to start (so no request is ever answered with these settings).
    with pytest.raises(authhub.ConfigurationError) as caught:
        make_hub(basic=section)
    error = caught.value
    assert error.status_code == 500
    assert error.detail == f"plugin 'basic': {message}"


def test_out_of_range_settings_are_reported_by_a_hub_that_does_not_check_its_chain(make_hub):
    # What ``authhub plugins`` shows on a broken installation.
    hub = make_hub(upgrade=False, check_chain=False, basic={"cache_ttl": -1})
    info = next(info for info in hub.plugins if info.name == "basic")
    assert info.error == "basic.cache_ttl: must be 0 (off) or a number of seconds, got -1.0"
    assert "basic" not in hub.installed_schemes


def test_unknown_or_mistyped_settings_are_refused_when_the_hub_is_built(make_hub):
    with pytest.raises(authhub.ConfigurationError, match="unknown setting 'basic.cache'"):
        make_hub(basic={"cache": 5})
    with pytest.raises(authhub.ConfigurationError, match="basic.cache_size: expected an integer"):
        make_hub(basic={"cache_size": "big"})


def test_the_installed_entry_point_is_the_scheme_basic(make_hub):
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group="authhub") if ep.name == "basic"]
    assert entry_point.value == "authhub_basic"
    assert entry_point.dist.name == "authhub-basic"
    assert entry_point.load() is authhub_basic
    hub = make_hub(schemes=None)
    assert "basic" in hub.installed_schemes
    info = next(info for info in hub.plugins if info.name == "basic")
    assert (info.distribution, info.version, info.error) == ("authhub-basic", authhub_basic.__version__, None)
    assert set(info.hooks) == {
        "aauthenticate", "auth_headers", "authenticate", "challenge", "create_scheme", "invalidated",
        "scheme_settings",
    }
    scheme = hub.scheme_object("basic")
    assert isinstance(scheme, BasicScheme)
    assert hub.find_scheme(BasicScheme) is scheme
    assert (scheme.hub, scheme.name, scheme.position) == (hub, "basic", 300)


def test_the_position_in_the_default_chain_and_the_openapi_description(make_hub):
    hub = make_hub(schemes=None)
    assert BasicScheme.position == 300
    assert hub.openapi("basic") == {
        "type": "http", "scheme": "basic", "description": "authhub-basic: HTTP Basic (RFC 7617).",
    }


def test_settings_are_checked_once_into_a_value(make_hub):
    hub = make_hub(basic={"realm": "billing", "cache_ttl": 5, "cache_size": 7, "max_header_size": 100})
    assert hub.find_scheme(BasicScheme).config == BasicSettings("billing", 5.0, 7, 100)
    assert BasicSettings.from_section(hub.settings.section("basic")).challenge == (
        'Basic realm="billing", charset="UTF-8"'
    )


def test_the_package_is_typed():
    assert importlib.resources.files("authhub_basic").joinpath("py.typed").is_file()


def test_auth_headers_makes_working_credentials(hub, alice):
    headers = hub.auth_headers("basic", alice, PASSWORD)
    assert headers == {"Authorization": basic("alice", PASSWORD)}
    assert hub.authenticate(request(hub, headers["Authorization"])).user == alice
    assert hub.auth_headers("basic", alice, None) is None


def test_the_test_fixtures_make_working_basic_credentials(authhub_hub, authhub_user, authhub_auth_headers):
    user = authhub_user("zed", PASSWORD)
    headers = authhub_auth_headers(user, scheme="basic")
    assert authhub_hub.authenticate(request(authhub_hub, headers["Authorization"])).user == user
