"""A private PostgreSQL server that a test may stop and start again (the shared one must stay up)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PrivatePostgres:
    """A throwaway cluster on a free loopback port; run as ``postgres`` when the tests run as root."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        assert found, "PostgreSQL server binaries are installed under /usr/lib/postgresql"
        self.bin = Path(found[-1]).parent
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.home = Path(tempfile.mkdtemp(prefix="authhub-token-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
        self._as_postgres(self.bin / "initdb", "-D", self.home / "data", "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: object) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(self.bin / "pg_ctl", "-D", self.home / "data", "-l", self.home / "log", "-w", "start",
                          "-o", options)
        self._wait(listening=True)

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.home / "data", "-m", "immediate", "-w", "stop")
        self._wait(listening=False)

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # it was not running
        shutil.rmtree(self.home, ignore_errors=True)

    def _wait(self, listening: bool) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if (probe.connect_ex(("127.0.0.1", self.port)) == 0) == listening:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL on port {self.port} did not go {'up' if listening else 'down'}")
