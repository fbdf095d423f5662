"""The access log of ``authhub serve``, read from what real served requests wrote."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import authhub
from authhub import accesslog
from authhub.server import Server, listen
from authhub.testing import hub_for_tests

from .probe import ProbeScheme

SECRET = "s3cret-credential-value"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    accesslog.configure("off")


def serving(hub: authhub.AuthHub, access_log: accesslog.AccessLogFormat) -> tuple[Server, threading.Thread]:
    server = listen(hub, host="127.0.0.1", port=0, threads=2, access_log=access_log)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


def stop(server: Server, thread: threading.Thread) -> None:
    from waitress import wasyncore

    server.waitress.task_dispatcher.shutdown()
    # Closed from the server's own loop thread, which may be inside select().
    server.waitress.trigger.pull_trigger(lambda: wasyncore.close_all(server.dispatchers))
    thread.join(timeout=10)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[authhub.AuthHub]:
    hub = hub_for_tests(tmp_path, plugins={"probe": ProbeScheme(SECRET)}, schemes=["probe"], load_entry_points=False)
    yield hub
    hub.close()


def requests_through(hub: authhub.AuthHub, access_log: accesslog.AccessLogFormat, stream: io.StringIO) -> list[str]:
    """Serve ``hub``, send four requests, and return the access log's lines."""
    accesslog.configure(access_log, stream)
    server, thread = serving(hub, access_log)
    base = server.urls[0].rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get(f"/whoami?access_token={SECRET}&x=1").status_code == 200
            assert client.get("/whoami", headers={"Authorization": f"Probe alice:{SECRET}"}).status_code == 200
            assert client.get("/whoami", headers={"Authorization": "Probe alice:wrong-secret"}).status_code == 401
            assert client.get("/no%20such%20%22page%22%0A").status_code == 404  # a space, a quote, a newline
    finally:
        stop(server, thread)
    return stream.getvalue().splitlines()


PLAIN = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<client>\S+) (?P<method>[A-Z]+) (?P<path>\S+) "
    r"(?P<status>\d{3}) (?P<duration>\d+\.\d)ms scheme=(?P<scheme>\S+) user=(?P<user>\S+)"
)


def test_plain_lines(hub, log_stream):
    lines = requests_through(hub, "plain", log_stream)
    assert len(lines) == 4, lines
    fields = [PLAIN.fullmatch(line) for line in lines]
    assert all(fields), lines
    assert [(f["client"], f["method"], f["path"], f["status"], f["scheme"], f["user"]) for f in fields] == [
        ("127.0.0.1", "GET", "/whoami", "200", "-", "-"),
        ("127.0.0.1", "GET", "/whoami", "200", "probe", "alice"),
        ("127.0.0.1", "GET", "/whoami", "401", "probe", "-"),
        ("127.0.0.1", "GET", "/no%20such%20%22page%22%0A", "404", "-", "-"),
    ]
    assert SECRET not in log_stream.getvalue() and "wrong-secret" not in log_stream.getvalue()
    assert "access_token" not in log_stream.getvalue()


def test_json_lines(hub, log_stream):
    records = [json.loads(line) for line in requests_through(hub, "json", log_stream)]
    assert [sorted(record) for record in records] == [
        ["client", "duration_ms", "method", "path", "scheme", "status", "time", "user"]] * 4
    assert [(r["path"], r["status"], r["scheme"], r["user"]) for r in records] == [
        ("/whoami", 200, None, None),
        ("/whoami", 200, "probe", "alice"),
        ("/whoami", 401, "probe", None),
        ("/no%20such%20%22page%22%0A", 404, None, None),
    ]
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) for r in records)
    assert SECRET not in log_stream.getvalue()


def test_a_user_name_cannot_forge_a_line(tmp_path, log_stream):
    class Named(ProbeScheme):
        @authhub.hookimpl
        def authenticate(self, request: authhub.Request) -> tuple[Any, None] | None:
            return authhub.User(id=2, username='eve 200 scheme=x\n2020 "x"'), None

    hub = hub_for_tests(tmp_path, plugins={"named": Named(SECRET)}, schemes=["named"], load_entry_points=False)
    accesslog.configure("plain", log_stream)
    server, thread = serving(hub, "plain")
    try:
        httpx.get(server.urls[0] + "whoami", timeout=10)
    finally:
        stop(server, thread)
        hub.close()
    (line,) = log_stream.getvalue().splitlines()
    assert line.endswith(r'scheme=named user="eve 200 scheme=x\n2020 \"x\""')


# -- through the command line ------------------------------------------------------------


def serve_and_read_the_log(tmp_path: Path, *options: str) -> tuple[str, list[str]]:
    """Run ``authhub serve --port 0 <options>``, make two requests, stop it; its first line and the log lines."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    environ.update({"AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "AUTHHUB_SCHEMES": ""})
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", "0", *options],
                               env=environ, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        announced = process.stderr.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/)", announced)
        assert match, announced + process.stderr.read()
        base = match.group(1)
        assert httpx.get(base + f"whoami?code={SECRET}", timeout=10).status_code == 200
        # 403 when no installed scheme has a challenge (the core alone), else 401.
        assert httpx.get(base + "protected", timeout=10).status_code in (401, 403)
    finally:
        process.terminate()
        _, rest = process.communicate(timeout=20)
    return announced, rest.splitlines()


def test_serve_logs_plain_lines_by_default(tmp_path):
    announced, lines = serve_and_read_the_log(tmp_path)
    assert "access log plain" in announced
    assert [PLAIN.fullmatch(line)["path"] for line in lines] == ["/whoami", "/protected"]  # type: ignore[index]
    assert [PLAIN.fullmatch(line)["status"][0] for line in lines] == ["2", "4"]  # type: ignore[index]
    assert not any(SECRET in line for line in lines)


def test_serve_logs_json_lines(tmp_path):
    _, lines = serve_and_read_the_log(tmp_path, "--access-log", "json")
    records = [json.loads(line) for line in lines]
    assert [(record["path"], record["status"] // 100) for record in records] == [("/whoami", 2), ("/protected", 4)]


def test_serve_without_an_access_log(tmp_path):
    announced, lines = serve_and_read_the_log(tmp_path, "--access-log", "off")
    assert "access log off" in announced
    assert lines == []



def test_serve_keeps_waitress_queue_warnings_out_of_the_log(tmp_path):
    # One worker thread and eight clients at once: waitress queues requests, and warns
    # "Task queue depth is N" for each unless authhub serve quiets it.
    import concurrent.futures

    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    environ.update({"AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"})
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", "0", "--threads", "1",
                                "--access-log", "off"],
                               env=environ, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/)", process.stderr.readline())
        assert match
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: httpx.get(match.group(1) + "whoami", timeout=10).status_code,
                                     range(200)))
        assert statuses == [200] * 200
    finally:
        process.terminate()
        _, rest = process.communicate(timeout=20)
    assert "Task queue depth" not in rest
