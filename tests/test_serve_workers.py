"""``authhub serve --workers N``: several processes on one port, each with its own hub, coherent caches."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_workers_share_the_port_and_stop_together(tmp_path):
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    environ["AUTHHUB_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.db'}"
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", "0", "--workers", "2",
                                "--access-log", "off"], env=environ, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        announced = process.stderr.readline()
        match = re.search(r"serving (http://127\.0\.0\.1:\d+/).*2 workers", announced)
        assert match, announced
        base = match.group(1)
        deadline = time.monotonic() + 20
        while len(children_of(process.pid)) < 2:
            assert time.monotonic() < deadline, "two worker processes did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(20):
                assert client.get("/whoami").json() == {"authenticated": False, "user": None, "scheme": None}
        workers = children_of(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_dead_worker_stops_the_server_with_an_error(tmp_path):
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")}
    environ["AUTHHUB_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.db'}"
    process = subprocess.Popen([sys.executable, "-m", "authhub", "serve", "--port", "0", "--workers", "2",
                                "--access-log", "off"], env=environ, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        process.stderr.readline()
        deadline = time.monotonic() + 20
        while len(children_of(process.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(children_of(process.pid)[0], signal.SIGKILL)
        assert process.wait(timeout=20) == 1
        assert "a worker stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_workers_refused_where_there_is_no_fork(monkeypatch):
    from click.testing import CliRunner

    from authhub.cli import cli

    monkeypatch.delattr(os, "fork")
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 1
    assert "--workers needs a system with fork()" in result.output
