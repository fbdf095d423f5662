"""What the real-proxy tests (Caddy, Traefik) share: a documented recipe, an echo upstream, the proxy's process.

Each proxy runs from its own binary on free loopback ports, configured by
the recipe ``docs/forward-auth.md`` shows, in front of an upstream that
answers with what it was given, asking a hub's reference server
(``authhub_live_server``) about every request.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import authhub

ROOT = Path(__file__).resolve().parents[2]
FORWARD_AUTH_PAGE = "docs/forward-auth.md"

#: The addresses the documented recipes use; the tests put their own in.
DOCUMENTED_AUTHHUB = "127.0.0.1:8000"
DOCUMENTED_APP = "127.0.0.1:9000"


def code_block(language: str, opening: str, document: str = FORWARD_AUTH_PAGE) -> str:
    """The fenced ``language`` block of ``document`` whose first line starts with ``opening``."""
    text = (ROOT / document).read_text(encoding="utf-8")
    start = text.index(f"```{language}\n{opening}") + len(f"```{language}\n")
    return text[start:text.index("```", start)]


def put_in(block: str, replacements: Mapping[str, str]) -> str:
    """``block`` with each documented value replaced, failing when the document no longer has it."""
    for documented, actual in replacements.items():
        assert documented in block, f"the documented recipe no longer has {documented!r}"
        block = block.replace(documented, actual)
    return block


@attrs.define
class Upstream:
    """What the application behind the proxy received."""

    address: str = ""
    requests: list[dict[str, Any]] = attrs.Factory(list)


@attrs.frozen
class Gateway:
    url: str
    upstream: Upstream


def start_upstream() -> tuple[ThreadingHTTPServer, Upstream]:
    """An application on a free port that answers with the method, path, body and authhub's headers it got."""
    upstream = Upstream()

    class Echo(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = {
                "method": self.command,
                "path": self.path,
                # As they came over the wire: every line, not joined, not decoded.
                "user": self.headers.get_all("X-Authhub-User") or [],
                "scheme": self.headers.get_all("X-Authhub-Scheme") or [],
                "body": self.rfile.read(length).decode(),
            }
            upstream.requests.append(seen)
            body = json.dumps(seen).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_HEAD = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream.address = f"127.0.0.1:{server.server_address[1]}"
    return server, upstream


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def client_from(address: str) -> httpx.Client:
    """A client connecting from another loopback address: the proxy's client address is then ``address``."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


@attrs.define
class ProxyProcess:
    """A proxy binary run by a test, its output in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str], port: int) -> ProxyProcess:
        with log.open("wb") as output:
            process = subprocess.Popen(list(argv), stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **env})
        proxy = cls(name, process, log)
        proxy.wait_for(port)
        return proxy

    def wait_for(self, port: int) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"{self.name} did not listen on 127.0.0.1:{port} within 20 s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Recorder:
    """Lets everyone in as alice, remembering what authhub was told about each request.

    Every header authhub believes from a trusted proxy, as it received them,
    beside the request as the chain sees it (method, path, client address, scheme).
    """

    HEADERS = (
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-method", "x-forwarded-uri",
        "x-original-method", "x-original-uri",
    )

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> Any:
        self.seen.append({
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "client": request.client,
            "url_scheme": request.url_scheme,
            "headers": {name: request.headers.get_all(name) for name in self.HEADERS if request.headers.get_all(name)},
        })
        return hub.users.get_by_username("alice"), None


#: Every header a client could send to pass itself off as something else; none of them may reach authhub.
FORGED = {
    "X-Forwarded-For": "198.51.100.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Method": "GET",
    "X-Forwarded-Uri": "/elsewhere",
    "X-Original-Method": "GET",
    "X-Original-URI": "/elsewhere",
    "X-Authhub-User": "admin",
}

#: User names outside ASCII and with reserved characters, and the ``X-Authhub-User`` line each must arrive as.
ENCODED_NAMES = {
    "jürgen": "j%C3%BCrgen",
    "名前": "%E5%90%8D%E5%89%8D",
    "zoë/50%": "zo%C3%AB%2F50%25",
    "o'neil+ops@example.org": "o'neil+ops@example.org",
}
