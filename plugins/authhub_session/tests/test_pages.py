"""The login pages of ``authhub serve``, with a plain HTTP client, on every store."""

from __future__ import annotations

import re

import httpx
import pytest

import authhub

from .conftest import PASSWORD, login_form_token, sessions_of, sign_in


def session_cookie_line(response: httpx.Response) -> str:
    lines = [line for line in response.headers.get_list("set-cookie") if line.startswith("authhub_session=")]
    assert len(lines) == 1, lines
    return lines[0]


def test_login_page_is_a_form_with_a_csrf_token(hub: authhub.AuthHub, live: httpx.Client) -> None:
    page = live.get("/login", params={"next": "/protected"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login">' in page.text
    assert 'name="username"' in page.text and 'type="password"' in page.text
    assert 'name="next" value="/protected"' in page.text
    assert len(login_form_token(page.text)) == 86
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    login_cookie = page.headers["set-cookie"]
    assert login_cookie.startswith("authhub_session_login=")
    assert "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie


def test_login_sets_a_strict_session_cookie_and_redirects(
    hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client
) -> None:
    response = sign_in(live, next_path="/protected")

    assert response.status_code == 303
    assert response.headers["location"] == "/protected"
    line = session_cookie_line(response)
    value = line.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)
    attributes = [part.strip() for part in line.split(";")[1:]]
    assert "HttpOnly" in attributes
    assert "SameSite=Lax" in attributes
    assert "Path=/" in attributes
    assert "Secure" not in attributes  # plain HTTP, cookie_secure off
    assert "Max-Age=43200" in attributes
    # the pre-session login cookie is dropped
    assert any(line.startswith("authhub_session_login=;") for line in response.headers.get_list("set-cookie"))

    assert live.get("/protected").json() == {"authenticated": True, "user": "alice", "scheme": "session"}
    home = live.get("/")
    assert home.status_code == 200
    assert '<strong id="username">alice</strong>' in home.text


def test_login_changes_the_session_id(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client) -> None:
    sign_in(live)
    first = live.cookies["authhub_session"]
    sign_in(live)
    second = live.cookies["authhub_session"]

    assert first != second
    assert sessions_of(hub).find(first) is None  # the old session ended, not just replaced
    assert sessions_of(hub).find(second) is not None


def test_a_planted_session_id_is_never_adopted(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client) -> None:
    planted = "P" * 43
    live.cookies.set("authhub_session", planted, domain=live.base_url.host)
    sign_in(live)

    assert live.cookies["authhub_session"] != planted
    assert sessions_of(hub).find(planted) is None


def test_wrong_password_shows_the_form_again_without_a_session(
    hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client
) -> None:
    response = sign_in(live, password="wrong")

    assert response.status_code == 200
    assert "Invalid username/password." in response.text
    assert '<form method="post" action="/login">' in response.text
    assert not any(line.startswith("authhub_session=") for line in response.headers.get_list("set-cookie"))
    assert live.get("/whoami").json()["authenticated"] is False


def test_unknown_user_and_missing_fields(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client) -> None:
    assert "Invalid username/password." in sign_in(live, username="mallory").text
    empty = sign_in(live, password="")
    assert empty.status_code == 400
    assert "Enter your username and password." in empty.text
    assert "authhub_session" not in live.cookies


def test_login_without_its_csrf_token_is_refused(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client) -> None:
    live.get("/login")
    missing = live.post("/login", data={"username": "alice", "password": PASSWORD})
    assert missing.status_code == 403
    assert missing.json() == {"detail": "CSRF Failed: CSRF token missing."}

    forged = live.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "A" * 86})
    assert forged.json() == {"detail": "CSRF Failed: CSRF token incorrect."}

    with httpx.Client(base_url=str(live.base_url)) as fresh:  # a form token without its cookie
        token = login_form_token(live.get("/login").text)
        no_cookie = fresh.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert no_cookie.status_code == 403
    assert no_cookie.json() == {"detail": "CSRF Failed: CSRF cookie not set."}

    page = live.get("/login")
    other_site = live.post("/login", headers={"Origin": "http://evil.example"},
                           data={"username": "alice", "password": PASSWORD, "csrf_token": login_form_token(page.text)})
    assert other_site.status_code == 403
    assert other_site.json()["detail"].startswith("CSRF Failed: Origin checking failed")
    assert "authhub_session" not in live.cookies


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
    "http:/evil.example", "/ok\r\nSet-Cookie: x=y", "evil.example", "",
])
def test_next_never_leaves_the_site(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client, target: str) -> None:
    response = sign_in(live, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_next_keeps_a_local_path_with_its_query(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client) -> None:
    response = sign_in(live, next_path="/protected?tab=1")
    assert response.headers["location"] == "/protected?tab=1"


def test_logout_ends_the_session_on_the_server(hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client) -> None:
    sign_in(live)
    session_id = live.cookies["authhub_session"]
    home = live.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)

    response = live.post("/logout", data={"csrf_token": token})

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert session_cookie_line(response).startswith("authhub_session=; Max-Age=0")
    assert sessions_of(hub).find(session_id) is None
    assert "Not signed in" in live.get("/").text
    # replaying the old cookie gets nothing, and is told to drop it
    replay = httpx.get(live.base_url.join("/whoami"), cookies={"authhub_session": session_id})
    assert replay.json()["authenticated"] is False
    assert session_cookie_line(replay).startswith("authhub_session=; Max-Age=0")


def test_logout_without_the_csrf_token_does_nothing(
    hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client
) -> None:
    sign_in(live)
    response = live.post("/logout")
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF token missing."}
    assert live.get("/whoami").json()["user"] == "alice"


def test_session_only_chain_answers_403_without_a_challenge(hub: authhub.AuthHub, live: httpx.Client) -> None:
    response = live.get("/protected")
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_tampered_cookie_is_anonymous_and_cleared(
    hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client
) -> None:
    sign_in(live)
    good = live.cookies["authhub_session"]
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    for value in (tampered, "garbage", good + "x"):
        response = httpx.get(live.base_url.join("/whoami"), cookies={"authhub_session": value})
        assert response.status_code == 200
        assert response.json()["authenticated"] is False
        assert session_cookie_line(response).startswith("authhub_session=; Max-Age=0")
    protected = httpx.get(live.base_url.join("/protected"), cookies={"authhub_session": tampered})
    assert protected.status_code == 403
    assert session_cookie_line(protected).startswith("authhub_session=; Max-Age=0")


def test_repeated_wrong_passwords_lock_the_form(make_hub, authhub_live_server) -> None:
    hub = make_hub(lockout_backoff_after=3, lockout_threshold=3, lockout_duration=60)
    hub.users.create("alice", PASSWORD)
    with httpx.Client(base_url=authhub_live_server(hub)) as client:
        for _ in range(3):
            assert "Invalid username/password." in sign_in(client, password="guess").text
        locked = sign_in(client)  # even the right password, while locked

        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 60
        assert "Too many failed attempts" in locked.text
        assert "authhub_session" not in client.cookies


@pytest.mark.parametrize(("target", "location"), [
    ("/\u2215\u2215evil.example", "/%E2%88%95%E2%88%95evil.example"),  # DIVISION SLASH
    ("/\uff0f\uff0fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"),  # FULLWIDTH SOLIDUS
    ("/caf\u00e9?q=\u00fc", "/caf%C3%A9?q=%C3%BC"),
])
def test_a_next_outside_ascii_is_percent_encoded_on_this_site(
    hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client, target: str, location: str
) -> None:
    # Issue 14: '/\u2215\u2215evil.example' gave a 500 after the session was created.
    page = live.get("/login", params={"next": target})
    assert page.status_code == 200
    response = sign_in(live, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == location
    assert live.get("/whoami").json()["user"] == "alice"


def test_a_nul_in_the_login_form_is_400_and_counts_nothing(
    hub: authhub.AuthHub, alice: authhub.User, live: httpx.Client
) -> None:
    for username, password in (("alice\x00", PASSWORD), ("\x00", "x"), ("alice", "pass\x00word")):
        response = sign_in(live, username=username, password=password)
        assert response.status_code == 400
        assert "NUL" in response.text
        assert "authhub_session" not in live.cookies
    assert sign_in(live).status_code == 303
