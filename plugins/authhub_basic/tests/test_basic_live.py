"""Basic against a real running reference server, with a real HTTP client."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from authhub.asgi import AuthMiddleware

from .conftest import PASSWORD

CHALLENGE = 'Basic realm="api", charset="UTF-8"'
USER = "jürgen-zoë"
COLON_PASSWORD = "pa:ss:wörd:"


@pytest.fixture
def server(make_hub, authhub_live_server) -> str:
    hub = make_hub()
    hub.users.create(USER, COLON_PASSWORD)
    hub.users.create("alice", PASSWORD)
    hub.users.create("carol", PASSWORD, is_active=False)
    return authhub_live_server(hub)


def refused_with(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers.get_list("www-authenticate") == [CHALLENGE]


def test_a_non_ascii_user_with_colons_in_the_password(server):
    response = httpx.get(f"{server}/protected", auth=(USER, COLON_PASSWORD))
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "user": USER, "scheme": "basic"}


def test_the_header_a_client_sends_is_utf8_base64(server):
    # What httpx sends is what RFC 7617 §2.1 asks for with charset="UTF-8".
    request = next(httpx.BasicAuth(USER, COLON_PASSWORD).auth_flow(httpx.Request("GET", f"{server}/protected")))
    token = request.headers["authorization"].split()[1]
    assert base64.b64decode(token).decode("utf-8") == f"{USER}:{COLON_PASSWORD}"


def test_good_bad_unknown_and_inactive(server):
    assert httpx.get(f"{server}/protected", auth=("alice", PASSWORD)).json()["user"] == "alice"
    refused_with(httpx.get(f"{server}/protected", auth=("alice", "wrong")), "Invalid username/password.")
    refused_with(httpx.get(f"{server}/protected", auth=("nobody", PASSWORD)), "Invalid username/password.")
    refused_with(httpx.get(f"{server}/protected", auth=(USER, "pa")), "Invalid username/password.")
    refused_with(httpx.get(f"{server}/protected", auth=("carol", PASSWORD)), "User inactive or deleted.")


def test_wrong_credentials_are_refused_even_where_anonymous_is_allowed(server):
    refused_with(httpx.get(f"{server}/whoami", auth=("alice", "wrong")), "Invalid username/password.")


def test_no_credentials(server):
    assert httpx.get(f"{server}/whoami").json() == {"authenticated": False, "user": None, "scheme": None}
    refused_with(httpx.get(f"{server}/protected"), "Authentication credentials were not provided.")


def test_another_scheme_is_left_alone(server):
    response = httpx.get(f"{server}/whoami", headers={"Authorization": "Bearer abc.def"})
    assert response.json()["authenticated"] is False


@pytest.mark.parametrize("scheme", ["basic", "BASIC"])
def test_the_scheme_name_in_any_case(server, scheme):
    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    response = httpx.get(f"{server}/protected", headers={"Authorization": f"{scheme} {token}"})
    assert response.json()["user"] == "alice"


MALFORMED = [
    (b"Basic", "no credentials provided"),
    (b"Basic YWxpY2U6 cGFzcw==", "the credentials must be a single token, without spaces"),
    (b"Basic YWxp*2U6cGFzcw==", "the credentials are not valid base64"),
    (b"Basic YWxpY2U6cGFzcw", "the credentials are not valid base64"),
    (b"Basic YWxpY2U6cGFzcw==\xe9", "the credentials are not valid base64"),
    (b"Basic " + base64.b64encode(b"\xffalice:x"), "the credentials are not valid UTF-8"),
    (b"Basic " + base64.b64encode(b"alice"), "the credentials must be user-id:password, and there is no colon"),
    (b"Basic " + base64.b64encode(b":" + PASSWORD.encode()), "the user-id is empty"),
    (b"Basic " + base64.b64encode(b"alice:pass\x00word"), "the credentials contain control characters"),
    (b"Basic " + b"A" * 9000, "longer than 8192 characters"),
]


@pytest.mark.parametrize("header, reason", MALFORMED)
def test_malformed_headers_are_401_with_a_clear_detail(server, header, reason):
    response = httpx.get(f"{server}/whoami", headers={"Authorization": header})
    refused_with(response, f"Invalid Basic authorization header: {reason}.")


def test_two_authorization_headers_are_refused(server):
    token = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    response = httpx.get(f"{server}/whoami", headers=[("Authorization", f"Basic {token}"),
                                                       ("Authorization", "Basic YmFkOmJhZA==")])
    # waitress would join them with ", "; authhub serve's parser refuses them first (issue 14).
    assert response.status_code == 400
    assert "More than one Authorization header." in response.text


def test_through_the_asgi_middleware(make_hub):
    hub = make_hub()
    hub.users.create(USER, COLON_PASSWORD)

    async def app(scope, receive, send):
        identity = scope["authhub.identity"]
        body = json.dumps({"user": identity.user.username, "auth": identity.auth, "scheme": identity.scheme})
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=AuthMiddleware(app, hub))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return [await client.get("/", auth=(USER, COLON_PASSWORD)), await client.get("/", auth=(USER, "x")),
                    await client.get("/", headers={"Authorization": "Basic ***"})]

    good, wrong, malformed = asyncio.run(calls())
    assert good.json() == {"user": USER, "auth": None, "scheme": "basic"}
    refused_with(wrong, "Invalid username/password.")
    refused_with(malformed, "Invalid Basic authorization header: the credentials are not valid base64.")


def test_script_clients_get_no_login_popup(server):
    response = httpx.get(f"{server}/protected", headers={"X-Requested-With": "XMLHttpRequest"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "x" + CHALLENGE


def test_the_cache_over_http(make_hub, authhub_live_server):
    hub = make_hub(basic={"cache_ttl": 60})
    hub.users.create("alice", PASSWORD)
    base = authhub_live_server(hub)
    with httpx.Client(base_url=base, auth=("alice", PASSWORD)) as client:
        assert [client.get("/protected").status_code for _ in range(3)] == [200, 200, 200]
        hub.users.set_password("alice", "changed")
        refused_with(client.get("/protected"), "Invalid username/password.")


# -- `authhub serve`, as a fresh install runs it -----------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def authhub_command() -> list[str]:
    script = shutil.which("authhub", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "authhub"]


@pytest.mark.slow
def test_authhub_serve_from_the_command_line(tmp_path):
    environ = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")},
        "AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "AUTHHUB_SCHEMES": "basic",
        "AUTHHUB_BASIC_REALM": "reference",
        "AUTHHUB_PASSWORD_TIME_COST": "1",
        "AUTHHUB_PASSWORD_MEMORY_COST": "8",
        "AUTHHUB_PASSWORD_PARALLELISM": "1",
    }
    command = authhub_command()
    added = subprocess.run([*command, "users", "add", USER, "--password-stdin"], input=f"{COLON_PASSWORD}\n",
                           capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=60)
    assert added.returncode == 0, added.stderr
    port = free_port()
    process = subprocess.Popen([*command, "serve", "--port", str(port), "--threads", "2"], env=environ,
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/whoami", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "authhub serve did not start in 30 s"
                time.sleep(0.1)
        good = httpx.get(f"{base}/protected", auth=(USER, COLON_PASSWORD))
        assert good.json() == {"authenticated": True, "user": USER, "scheme": "basic"}
        bad = httpx.get(f"{base}/protected", auth=(USER, "pa"))
        assert bad.status_code == 401
        assert bad.json() == {"detail": "Invalid username/password."}
        assert bad.headers.get_list("www-authenticate") == ['Basic realm="reference", charset="UTF-8"']
        malformed = httpx.get(f"{base}/protected", headers={"Authorization": "Basic %%%"})
        assert malformed.status_code == 401
        assert malformed.json()["detail"] == "Invalid Basic authorization header: the credentials are not valid base64."
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.parametrize("browser_headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "SAME"},
], ids=["other-origin", "null-origin", "sec-fetch-cross-site", "sec-fetch-wins"])
def test_an_unsafe_basic_request_from_another_site_is_refused(server, browser_headers):
    # Issue 14: browsers resend cached Basic credentials by themselves, also on another site's form POST.
    headers = {name: (server if value == "SAME" else value) for name, value in browser_headers.items()}
    for _ in range(12):  # more than the lockout threshold: refusals here are not guesses
        response = httpx.post(f"{server}/auth/verify", auth=("alice", PASSWORD), headers=headers)
        assert response.status_code == 403
        assert "cross-site" in response.json()["detail"]
    assert httpx.get(f"{server}/auth/verify", auth=("alice", PASSWORD), headers=headers).status_code == 200


@pytest.mark.parametrize("browser_headers", [
    {}, {"Origin": "SAME"}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "none"},
], ids=["no-browser", "same-origin", "sec-fetch-same-origin", "sec-fetch-same-site", "sec-fetch-none"])
def test_an_unsafe_basic_request_from_this_site_or_no_browser_works(server, browser_headers):
    headers = {name: (server if value == "SAME" else value) for name, value in browser_headers.items()}
    response = httpx.post(f"{server}/auth/verify", auth=("alice", PASSWORD), headers=headers)
    assert response.status_code == 200
    assert response.json()["user"] == "alice"
