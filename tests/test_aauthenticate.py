"""A scheme's ``aauthenticate`` runs on the event loop under ASGI; its ``authenticate`` everywhere else."""

from __future__ import annotations

import asyncio
import threading

import pytest

import authhub
from authhub.testing import hub_for_tests


class TwoForms:
    """Answers from memory on the loop; the plain form records the thread it ran in."""

    def __init__(self) -> None:
        self.plain_threads: list[str] = []
        self.native_threads: list[str] = []

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request) -> tuple[str, str] | None:
        self.plain_threads.append(threading.current_thread().name)
        if request.headers.get("x-key") == "bad":
            raise authhub.AuthenticationFailed("bad key")
        return ("plain", "p") if request.headers.get("x-key") else None

    @authhub.hookimpl
    async def aauthenticate(self, request: authhub.Request) -> tuple[str, str] | None:
        self.native_threads.append(threading.current_thread().name)
        key = request.headers.get("x-key")
        if key == "cached":
            return "native", "n"
        if key is None:
            return None
        return await asyncio.to_thread(self.authenticate, request)  # a miss: only now a thread


def make(tmp_path, scheme):
    return hub_for_tests(tmp_path, load_entry_points=False, plugins={"two": scheme})


def test_asgi_awaits_aauthenticate_on_the_loop(tmp_path):
    scheme = TwoForms()
    hub = make(tmp_path, scheme)
    loop_thread = threading.current_thread().name

    async def go() -> authhub.Identity:
        return await hub.aauthenticate(authhub.Request("GET", "/", [("x-key", "cached")]))

    identity = asyncio.run(go())
    assert (identity.user, identity.auth, identity.scheme) == ("native", "n", "two")
    assert scheme.native_threads == [loop_thread]
    assert scheme.plain_threads == []  # no worker thread for a cache hit


def test_a_miss_goes_to_a_thread_and_errors_keep_their_scheme(tmp_path):
    scheme = TwoForms()
    hub = make(tmp_path, scheme)
    identity = asyncio.run(hub.aauthenticate(authhub.Request("GET", "/", [("x-key", "other")])))
    assert identity.user == "plain"
    assert scheme.plain_threads and scheme.plain_threads[0] != threading.current_thread().name
    with pytest.raises(authhub.AuthenticationFailed) as raised:
        asyncio.run(hub.aauthenticate(authhub.Request("GET", "/", [("x-key", "bad")])))
    assert raised.value.scheme == "two"


def test_wsgi_and_sync_callers_use_authenticate(tmp_path):
    scheme = TwoForms()
    hub = make(tmp_path, scheme)
    identity = hub.authenticate(authhub.Request("GET", "/", [("x-key", "cached")]))
    assert identity.user == "plain"
    assert scheme.native_threads == []


def test_traced_hub_calls_aauthenticate_through_pluggy(tmp_path, capfd):
    scheme = TwoForms()
    hub = hub_for_tests(tmp_path, load_entry_points=False, plugins={"two": scheme},
                        environ={"AUTHHUB_TRACE_HOOKS": "1"})
    identity = asyncio.run(hub.aauthenticate(authhub.Request("GET", "/", [("x-key", "cached")])))
    assert identity.user == "native"
    assert "aauthenticate" in capfd.readouterr().err
