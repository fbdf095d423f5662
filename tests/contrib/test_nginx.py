"""A real nginx (``auth_request``) in front of a tiny upstream, asking ``authhub serve``'s ``/auth/verify``.

The test starts everything itself on free loopback ports: the reference
server (``authhub_live_server``), an upstream that echoes what it was
given, and nginx with its own prefix and configuration - the one
``docs/adapters.md`` shows. nginx comes from Debian's ``nginx-light``
(or ``nginx``) package; ``AUTHHUB_TEST_NGINX`` names another binary.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import authhub

CONFIG = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
{user}
events {{ worker_connections 64; }}

http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    upstream authhub {{ server {authhub}; }}
    upstream app {{ server {app}; }}

    server {{
        listen {listen};

        location / {{
            auth_request /_authhub/verify;
            auth_request_set $authhub_user $upstream_http_x_authhub_user;
            auth_request_set $authhub_scheme $upstream_http_x_authhub_scheme;
            # Always set: a client's own X-Authhub-* headers never reach the app.
            proxy_set_header X-Authhub-User $authhub_user;
            proxy_set_header X-Authhub-Scheme $authhub_scheme;
            proxy_pass http://app;
        }}

        location /public/ {{
            auth_request off;
            proxy_set_header X-Authhub-User "";
            proxy_set_header X-Authhub-Scheme "";
            proxy_pass http://app;
        }}

        location = /_authhub/verify {{
            internal;
            proxy_pass http://authhub/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


@attrs.define
class Upstream:
    """What the application behind nginx received."""

    url: str
    requests: list[dict[str, Any]] = attrs.Factory(list)


@attrs.frozen
class Gateway:
    url: str
    upstream: Upstream


def nginx_binary() -> str:
    binary = os.environ.get("AUTHHUB_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).is_file():
        pytest.fail("nginx is needed for this test: apt-get install nginx-light (or set AUTHHUB_TEST_NGINX)")
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_upstream() -> tuple[ThreadingHTTPServer, Upstream]:
    upstream = Upstream("")

    class Echo(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = {
                "method": self.command,
                "path": self.path,
                "user": self.headers.get("X-Authhub-User"),
                "scheme": self.headers.get("X-Authhub-Scheme"),
                "body": self.rfile.read(length).decode(),
            }
            upstream.requests.append(seen)
            body = json.dumps(seen).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream.url = f"127.0.0.1:{server.server_address[1]}"
    return server, upstream


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
def gateway(tmp_path: Path, authhub_live_server: Any) -> Iterator[Callable[[authhub.AuthHub], Gateway]]:
    """``gateway(hub)``: nginx on a free port, asking ``hub``'s reference server, in front of an echo upstream."""
    binary = nginx_binary()
    started: list[tuple[subprocess.Popen[bytes], ThreadingHTTPServer]] = []

    def start(hub: authhub.AuthHub) -> Gateway:
        authhub_url = authhub_live_server(hub).removeprefix("http://")
        server, upstream = start_upstream()
        prefix = tmp_path / f"nginx{len(started)}"
        prefix.mkdir()
        port = free_port()
        # As root the workers would switch to 'nobody', who cannot enter pytest's private tmp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        config = prefix / "nginx.conf"
        config.write_text(
            CONFIG.format(prefix=prefix, user=user, authhub=authhub_url, app=upstream.url, listen=f"127.0.0.1:{port}")
        )
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
def trusting_hub(make_chain_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    """The ``key``/``pass`` chain, believing the nginx on 127.0.0.1 about the original request."""
    return make_chain_hub(trusted_proxies=["127.0.0.1"])


@pytest.fixture
def nginx(gateway: Callable[[authhub.AuthHub], Gateway], trusting_hub: authhub.AuthHub) -> Gateway:
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
        "user": "alice",
        "scheme": "key",
        "body": "",
    }
    by_password = httpx.get(f"{nginx.url}/api/items", headers=authhub_auth_headers(alice, "pass"))
    assert by_password.json()["scheme"] == "pass"


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
    assert response.json()["user"] == "alice"
    public = httpx.get(f"{nginx.url}/public/page", headers=spoof)
    assert public.status_code == 200
    assert public.json()["user"] is None


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
    assert response.json()["user"] == "bob"
    assert response.json()["scheme"] == "token"


class Recorder:
    """Lets everyone in as alice, remembering the method and path it was shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> Any:
        self.seen.append((request.method, request.path, request.query_string))
        return hub.users.get_by_username("alice"), None


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
    assert response.json()["user"] == "alice"
    # nginx keeps the client's method on the sub-request, so a cookie scheme's CSRF check still applies.
    assert recorder.seen == [expected]
