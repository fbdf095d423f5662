"""Web pages on another loopback address, for the browser tests: a client application's site, an attacker's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest


class Site:
    """A page server on a loopback address: ``pages[path]`` is the HTML of each path; ``visits`` what came in."""

    def __init__(self, host: str) -> None:
        self.pages: dict[str, str] = {}
        self.visits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.visits.append(self.path)
                body = site.pages.get(urlsplit(self.path).path, "<!doctype html><title>client</title>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites() -> Iterator[Callable[[str], Site]]:
    """``sites(host)``: a :class:`Site` on ``host`` (``127.0.0.2``, ...), closed after the test."""
    started: list[Site] = []

    def start(host: str) -> Site:
        started.append(Site(host))
        return started[-1]

    yield start
    for site in started:
        site.close()
