"""The pytest plugin's user and credential fixtures, in process and as an application's test suite uses them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import authhub


def test_users_get_names_and_remembered_random_passwords(
    hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    first, second = authhub_user(hub=hub), authhub_user(hub=hub)
    assert (first.username, second.username) == ("user1", "user2")
    headers = authhub_auth_headers(first, "pass")
    username, _, password = headers["Authorization"].removeprefix("Pass ").partition(":")
    assert username == "user1"
    assert len(password) >= 16
    assert hub.users.check_password("user1", password) == first


def test_without_a_hub_users_go_to_authhub_hub(authhub_hub: authhub.AuthHub, authhub_user: Any) -> None:
    frank = authhub_user("frank")
    assert authhub_hub.users.get_by_username("frank") == frank


def test_made_credentials_authenticate_with_the_hub_the_user_was_made_in(
    hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    carol = authhub_user("carol", "secret-pw", hub=hub)
    for scheme in ("key", "pass"):
        request = authhub.Request("GET", "/", authhub_auth_headers(carol, scheme).items(), hub=hub)
        assert (request.user.username, request.auth_scheme) == ("carol", scheme)


def test_inactive_users_can_be_made(hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any) -> None:
    gone = authhub_user("gone", hub=hub, is_active=False)
    request = authhub.Request("GET", "/", authhub_auth_headers(gone, "pass").items(), hub=hub)
    with pytest.raises(authhub.AuthenticationFailed, match="User inactive or deleted."):
        _ = request.user


def test_a_scheme_without_the_hook_is_named_in_the_error(
    hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    dave = authhub_user("dave", hub=hub)
    with pytest.raises(
        LookupError, match=r"scheme 'nope' cannot make test credentials: .*not installed.*installed schemes: key, pass"
    ):
        authhub_auth_headers(dave, "nope")


def test_a_scheme_without_the_auth_headers_hook_makes_none(
    authhub_make_hub: Any, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    class Silent:
        @authhub.hookimpl
        def authenticate(self) -> None:
            return None

    hub = authhub_make_hub(load_entry_points=False, plugins={"silent": Silent()}, schemes=["silent"])
    with pytest.raises(LookupError, match="scheme 'silent' made no credentials for 'erin'"):
        authhub_auth_headers(authhub_user("erin", hub=hub), "silent")


def test_a_scheme_that_needs_the_password_says_so(hub: authhub.AuthHub, authhub_auth_headers: Any) -> None:
    stranger = authhub.User(99, "stranger")  # not made by authhub_user: no password known
    with pytest.raises(LookupError, match="made no credentials for 'stranger'"):
        authhub_auth_headers(stranger, "pass", hub=hub)


APP_TESTS = """
import authhub
import pytest


class Header:
    @authhub.hookimpl
    def authenticate(self, request, hub):
        name = request.headers.get_all("x-user")
        return (hub.users.get_by_username(name[0]), None) if name else None

    @authhub.hookimpl
    def auth_headers(self, user):
        return {"X-User": user.username}


@pytest.fixture
def hub(authhub_make_hub):
    return authhub_make_hub(load_entry_points=False, plugins={"header": Header()}, schemes=["header"])


def test_protected_view_in_a_line(hub, authhub_user, authhub_auth_headers):
    headers = authhub_auth_headers(authhub_user("eve", hub=hub), "header")
    request = authhub.Request("GET", "/", headers.items(), hub=hub)
    assert request.user.username == "eve"


def test_default_hub_is_ready(authhub_hub):
    assert authhub_hub.users.list() == []
"""


def test_an_application_test_suite_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(textwrap.dedent(APP_TESTS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def _answers(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/whoami", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_live_servers_stop_and_free_their_ports(hub: authhub.AuthHub) -> None:
    from authhub.testing import LiveServers

    servers = LiveServers()
    bases = [servers.start(hub), servers.start(hub)]
    assert all(_answers(base) for base in bases)
    threads = [thread for _, thread in servers.running]
    servers.stop()
    assert not any(thread.is_alive() for thread in threads)
    assert not any(_answers(base) for base in bases)


def test_live_servers_stop_even_when_a_trigger_is_already_closed(hub: authhub.AuthHub) -> None:
    from authhub.testing import LiveServers

    servers = LiveServers()
    base = servers.start(hub)
    assert _answers(base)
    server, thread = servers.running[0]
    # The state seen once under load: pulling the trigger raises EBADF. Only its
    # write end is broken, so the server's own select() on the read end stays
    # valid (closing both made the server thread itself fail whenever it woke first).
    read_only = os.open(os.devnull, os.O_RDONLY)
    os.dup2(read_only, server.trigger.trigger)
    os.close(read_only)
    with pytest.raises(OSError):
        server.trigger.pull_trigger()
    servers.stop()  # must not raise, and must still close the listening socket
    assert not _answers(base)
    assert servers.running == []
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_site_serves_its_pages_from_another_address_and_records_the_visits(authhub_site: Any) -> None:
    import urllib.request

    site = authhub_site("127.0.0.2")
    site.pages["/callback"] = "<!doctype html><title>back</title>"
    assert site.base.startswith("http://127.0.0.2:")
    with urllib.request.urlopen(f"{site.base}/callback?code=x", timeout=5) as response:
        assert response.read() == b"<!doctype html><title>back</title>"
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    with urllib.request.urlopen(f"{site.base}/other", timeout=5) as response:
        assert b"<title>site</title>" in response.read()
    assert site.visits == ["/callback?code=x", "/other"]
    other = authhub_site("127.0.0.3")
    assert other.base.startswith("http://127.0.0.3:") and other.visits == []
