"""A real nginx (``auth_request``) in front of a tiny upstream, asking ``authhub serve``'s ``/auth/verify``.

The test starts everything itself on free loopback ports: the reference
server (``authhub_live_server``), an upstream that echoes what it was
given, and nginx with its own prefix and configuration - the one
``docs/adapters.md`` shows, or the short one of ``docs/forward-auth.md``.
nginx comes from Debian's ``nginx-light`` (or ``nginx``) package;
``AUTHHUB_TEST_NGINX`` names another binary.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

import authhub

from .proxies import ENCODED_NAMES, Gateway, Recorder, client_from, free_port, start_upstream

ROOT = Path(__file__).resolve().parents[2]

#: What the recipes leave out: a pid file, logs and temporary files in the test's own prefix.
MAIN = """\
daemon off;
worker_processes 1;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log notice;
@USER@
events { worker_connections 64; }

http {
    access_log off;
    client_body_temp_path @PREFIX@/client_body;
    proxy_temp_path @PREFIX@/proxy;
    fastcgi_temp_path @PREFIX@/fastcgi;
    uwsgi_temp_path @PREFIX@/uwsgi;
    scgi_temp_path @PREFIX@/scgi;

@RECIPE@
}
"""

#: Around the short recipe of docs/forward-auth.md (locations only): the app upstream, the server, a public location.
SHORT_SERVER = """\
upstream app { server @APP@; }
server {
    listen @LISTEN@;
@LOCATIONS@
    location /public/ {
        auth_request off;
        proxy_set_header X-Authhub-User "";
        proxy_pass http://app;
    }
}
"""


def nginx_block(document: str, opening: str) -> str:
    """The ```nginx code block of ``document`` that starts with ``opening``."""
    text = (ROOT / document).read_text(encoding="utf-8")
    start = text.index("```nginx\n" + opening) + len("```nginx\n")
    return text[start:text.index("```", start)]


def recipe(name: str, authhub_address: str, app: str, listen: str) -> str:
    """The forward-auth recipe of docs/adapters.md (``docs``) or the short one of docs/forward-auth.md (``short``)."""
    if name == "docs":
        block = nginx_block("docs/adapters.md", "upstream authhub")
        for documented, actual in (("server 127.0.0.1:8000;", f"server {authhub_address};"),
                                   ("server 127.0.0.1:9000;", f"server {app};"), ("listen 80;", f"listen {listen};")):
            assert documented in block, documented
            block = block.replace(documented, actual)
        return block
    block = nginx_block("docs/forward-auth.md", "location / {")
    assert "http://127.0.0.1:8000/auth/verify" in block
    block = block.replace("http://127.0.0.1:8000/auth/verify", f"http://{authhub_address}/auth/verify")
    return SHORT_SERVER.replace("@APP@", app).replace("@LISTEN@", listen).replace("@LOCATIONS@", block)


def nginx_binary() -> str:
    binary = os.environ.get("AUTHHUB_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).is_file():
        pytest.fail("nginx is needed for this test: apt-get install nginx-light (or set AUTHHUB_TEST_NGINX)")
    return binary


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nginx did not listen on 127.0.0.1:{port} within 10 s")


@pytest.fixture
def gateway(tmp_path: Path, authhub_live_server: Any) -> Iterator[Callable[..., Gateway]]:
    """``gateway(hub, recipe="docs")``: nginx on a free port, configured by a documented recipe, asking
    ``hub``'s reference server, in front of an echo upstream."""
    binary = nginx_binary()
    started: list[tuple[subprocess.Popen[bytes], ThreadingHTTPServer]] = []

    def start(hub: authhub.AuthHub, recipe_name: str = "docs") -> Gateway:
        authhub_url = authhub_live_server(hub).removeprefix("http://")
        server, upstream = start_upstream()
        prefix = tmp_path / f"nginx{len(started)}"
        prefix.mkdir()
        port = free_port()
        # As root the workers would switch to 'nobody', who cannot enter pytest's private tmp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        config = prefix / "nginx.conf"
        body = recipe(recipe_name, authhub_url, upstream.address, f"127.0.0.1:{port}")
        config.write_text(MAIN.replace("@PREFIX@", str(prefix)).replace("@USER@", user).replace("@RECIPE@", body))
        process = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append((process, server))
        wait_for_port(port, process, prefix / "error.log")
        return Gateway(f"http://127.0.0.1:{port}", upstream)

    yield start
    for process, server in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.shutdown()
        server.server_close()


@pytest.fixture
def nginx(gateway: Callable[..., Gateway], trusting_hub: authhub.AuthHub) -> Gateway:
    return gateway(trusting_hub)


@pytest.fixture
def alice(authhub_user: Callable[..., Any], trusting_hub: authhub.AuthHub) -> Any:
    return authhub_user("alice", "wonderland", hub=trusting_hub)


def test_anonymous_requests_are_refused_with_the_challenge_and_never_reach_the_app(nginx: Gateway) -> None:
    response = httpx.get(f"{nginx.url}/api/items")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate")[0] == 'Key realm="tests"'
    assert nginx.upstream.requests == []


def test_wrong_credentials_are_refused(nginx: Gateway, alice: Any) -> None:
    assert httpx.get(f"{nginx.url}/api/items", headers={"Authorization": "Key unknown"}).status_code == 401
    assert httpx.get(f"{nginx.url}/api/items", headers={"Authorization": "Pass alice:no"}).status_code == 401
    assert nginx.upstream.requests == []


def test_good_credentials_reach_the_app_with_the_user_and_scheme(
    nginx: Gateway, alice: Any, authhub_auth_headers: Any
) -> None:
    response = httpx.get(f"{nginx.url}/api/items?page=2", headers=authhub_auth_headers(alice, "key"))
    assert response.status_code == 200
    assert response.json() == {
        "method": "GET",
        "path": "/api/items?page=2",
        "user": ["alice"],
        "scheme": ["key"],
        "body": "",
    }
    by_password = httpx.get(f"{nginx.url}/api/items", headers=authhub_auth_headers(alice, "pass"))
    assert by_password.json()["scheme"] == ["pass"]


def test_a_post_body_goes_to_the_app_and_not_to_authhub(nginx: Gateway, alice: Any, authhub_auth_headers: Any) -> None:
    response = httpx.post(
        f"{nginx.url}/api/items",
        content=b'{"name": "x"}',
        headers={**authhub_auth_headers(alice, "key"), "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["method"] == "POST"
    assert response.json()["body"] == '{"name": "x"}'


def test_a_client_cannot_claim_to_be_someone(nginx: Gateway, alice: Any, authhub_auth_headers: Any) -> None:
    spoof = {"X-Authhub-User": "admin", "X-Authhub-Scheme": "key"}
    assert httpx.get(f"{nginx.url}/api/items", headers=spoof).status_code == 401
    response = httpx.get(f"{nginx.url}/api/items", headers={**spoof, **authhub_auth_headers(alice, "key")})
    assert response.json()["user"] == ["alice"]
    public = httpx.get(f"{nginx.url}/public/page", headers=spoof)
    assert public.status_code == 200
    assert public.json()["user"] == []


def test_the_real_token_plugin_behind_nginx(
    gateway: Callable[[authhub.AuthHub], Gateway],
    token_hub: authhub.AuthHub,
    authhub_user: Any,
    authhub_auth_headers: Any,
) -> None:
    nginx = gateway(token_hub)
    bob = authhub_user("bob", hub=token_hub)
    refused = httpx.get(f"{nginx.url}/report")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Token")
    response = httpx.get(f"{nginx.url}/report", headers=authhub_auth_headers(bob, "token"))
    assert response.json()["user"] == ["bob"]
    assert response.json()["scheme"] == ["token"]


@pytest.mark.parametrize(
    ("trusted_proxies", "expected"),
    [(["127.0.0.1"], ("POST", "/api/items", "x=1")), ([], ("POST", "/auth/verify", ""))],
)
def test_the_schemes_see_the_original_method_and_from_a_trusted_nginx_the_uri(
    gateway: Callable[[authhub.AuthHub], Gateway],
    authhub_make_hub: Any,
    authhub_user: Any,
    trusted_proxies: list[str],
    expected: tuple[str, str, str],
) -> None:
    recorder = Recorder()
    hub = authhub_make_hub(
        load_entry_points=False, plugins={"recorder": recorder}, schemes=["recorder"], trusted_proxies=trusted_proxies
    )
    authhub_user("alice", hub=hub)
    nginx = gateway(hub)
    response = httpx.post(f"{nginx.url}/api/items?x=1", content=b"abc")
    assert response.json()["user"] == ["alice"]
    # nginx keeps the client's method on the sub-request, so a cookie scheme's CSRF check still applies.
    assert [(seen["method"], seen["path"], seen["query"]) for seen in recorder.seen] == [expected]


# -- forged forwarded headers (issue 14) -------------------------------------------------------


@pytest.mark.parametrize("recipe_name", ["docs", "short"])
def test_forged_forwarded_for_does_not_escape_the_lockout_and_429_reaches_the_client(
    gateway: Callable[..., Gateway], authhub_make_hub: Any, recipe_name: str
) -> None:
    hub = authhub_make_hub(schemes=["basic"], trusted_proxies=["127.0.0.1"], lockout_backoff_after=3,
                           lockout_threshold=4)
    hub.users.create("alice", "wonderland")
    nginx = gateway(hub, recipe_name)
    statuses = []
    with client_from("127.0.0.2") as attacker:
        for number in range(8):
            forged = f"198.51.100.{number + 1}"
            response = attacker.get(f"{nginx.url}/api/items", auth=("alice", f"guess-{number}"), headers={
                "X-Forwarded-For": forged, "X-Real-IP": forged, "Forwarded": f"for={forged}"})
            statuses.append(response.status_code)
        assert statuses[:3] == [401, 401, 401]
        assert 429 in statuses and 500 not in statuses, statuses
        locked = attacker.get(f"{nginx.url}/api/items", auth=("alice", "wonderland"),
                              headers={"X-Forwarded-For": "203.0.113.77"})
        assert locked.status_code == 429  # nginx no longer makes a 500 of it
        assert int(locked.headers["Retry-After"]) >= 1
    # The lock is on the attacker's real address: an honest client elsewhere is not sharing it.
    with client_from("127.0.0.3") as honest:
        assert honest.get(f"{nginx.url}/api/items", auth=("alice", "wonderland")).status_code == 200
    assert [seen["user"] for seen in nginx.upstream.requests] == [["alice"]]


@pytest.mark.parametrize("recipe_name", ["docs", "short"])
def test_a_forged_forwarded_method_does_not_skip_the_csrf_check(
    gateway: Callable[..., Gateway], authhub_make_hub: Any, authhub_user: Any, authhub_auth_headers: Any,
    recipe_name: str
) -> None:
    hub = authhub_make_hub(schemes=["session"], trusted_proxies=["127.0.0.1"])
    alice = authhub_user("alice", hub=hub)
    cookie = {"Cookie": authhub_auth_headers(alice, "session")["Cookie"]}  # no X-CSRF-Token
    nginx = gateway(hub, recipe_name)
    assert httpx.get(f"{nginx.url}/api/items", headers=cookie).json()["user"] == ["alice"]
    for forged in ({"X-Forwarded-Method": "GET"}, {"X-Original-Method": "GET"},
                   {"X-Forwarded-Method": "GET", "X-Original-Method": "GET", "X-Forwarded-Uri": "/other"}):
        response = httpx.post(f"{nginx.url}/api/items", content=b"delete=all", headers={**cookie, **forged})
        assert response.status_code == 403, (forged, response.status_code)
    assert [seen["method"] for seen in nginx.upstream.requests] == ["GET"]


def test_a_proxy_that_passes_on_a_clients_method_header_gets_a_400(
    authhub_make_hub: Any, authhub_live_server: Any
) -> None:
    """An older recipe set X-Original-Method only; a client's X-Forwarded-Method beside it is refused."""
    hub = authhub_make_hub(schemes=["session"], trusted_proxies=["127.0.0.1"])
    base = authhub_live_server(hub)
    for forged in ({"X-Original-Method": "POST", "X-Forwarded-Method": "GET"},
                   {"X-Original-URI": "/a", "X-Forwarded-Uri": "/b"}):
        response = httpx.post(f"{base}/auth/verify", headers=forged)
        assert response.status_code == 400
        assert "disagree" in response.json()["detail"]


@pytest.mark.parametrize("recipe_name", ["docs", "short"])
def test_user_names_reach_the_app_percent_encoded_as_through_every_proxy(
    gateway: Callable[..., Gateway], trusting_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any,
    recipe_name: str
) -> None:
    nginx = gateway(trusting_hub, recipe_name)
    for name, encoded in ENCODED_NAMES.items():  # the same values test_caddy_and_traefik.py expects
        user = authhub_user(name, hub=trusting_hub)
        response = httpx.get(f"{nginx.url}/api/items", headers=authhub_auth_headers(user, "key"))
        assert response.json()["user"] == [encoded], name
        assert unquote(encoded) == name
