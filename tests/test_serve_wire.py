"""``authhub serve`` on a raw socket: what waitress would otherwise decide before authhub sees the request.

Issue 14: waitress joins two ``Authorization`` headers into one value
(401, or 200 anonymous when an empty one comes first), and spooled bodies
of up to 1 GiB before authhub's ``max_body_size`` applied.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

import authhub

MAX_BODY = 4096


class PassScheme(authhub.Scheme):
    """``Authorization: Pass <user>:<password>``: a scheme of the test's own (the core's tests install none)."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> Any:
        token = request.credentials("Pass")
        if token is None:
            return None
        name, _, password = token.partition(":")
        return self.hub.users.check_password(name, password), None


class PassPlugin:
    @authhub.hookimpl
    def create_scheme(self, hub: authhub.AuthHub, name: str, settings: Any) -> PassScheme:
        return PassScheme(hub, name, settings)


@pytest.fixture
def base(authhub_make_hub: Callable[..., authhub.AuthHub], authhub_live_server: Callable[[authhub.AuthHub], str]
         ) -> str:
    hub = authhub_make_hub(load_entry_points=False, plugins={"pass": PassPlugin()}, schemes=["pass"],
                           max_body_size=MAX_BODY)
    hub.users.create("alice", "wonderland")
    return authhub_live_server(hub)


def exchange(base: str, head: list[bytes], body: bytes = b"") -> tuple[int, bytes]:
    """Send the request line and header lines as given; return the status and the whole answer."""
    host, port = base.removeprefix("http://").split(":")
    request = b"\r\n".join([*head, b"Host: 127.0.0.1", b"Connection: close", b"", b""]) + body
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


ALICE = b"Authorization: Pass alice:wonderland"
MALLORY = b"Authorization: Pass mallory:guess"


@pytest.mark.parametrize("headers", [
    [ALICE, MALLORY],
    [MALLORY, ALICE],
    [b"Authorization:", ALICE],
    [b"Authorization: ", ALICE],
    [ALICE, b"authorization: Pass"],
    [ALICE, b"AUTHORIZATION:  "],
], ids=["good-bad", "bad-good", "empty-good", "blank-good", "good-lowercase", "good-upper-blank"])
def test_two_authorization_headers_are_400(base: str, headers: list[bytes]) -> None:
    status, answer = exchange(base, [b"GET /whoami HTTP/1.1", *headers])
    assert status == 400, answer
    assert b"More than one Authorization header." in answer


def test_one_authorization_header_still_works(base: str) -> None:
    status, answer = exchange(base, [b"GET /protected HTTP/1.1", ALICE])
    assert status == 200, answer
    assert b'"user": "alice"' in answer or b'"user":"alice"' in answer


def test_waitress_refuses_a_body_over_max_body_size_before_reading_it(base: str) -> None:
    # Only the headers are sent: before the fix waitress waited for the 10 MB body (and would spool it).
    status, answer = exchange(base, [b"POST /whoami HTTP/1.1", b"Content-Type: text/plain",
                                     b"Content-Length: 10000000"])
    assert status == 413, answer
    status, _ = exchange(base, [b"POST /whoami HTTP/1.1", b"Content-Length: 10"], b"x" * 10)
    assert status == 405
