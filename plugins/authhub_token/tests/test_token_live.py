"""Against a real running reference server: create, /whoami, revoke, 401, one character changed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import authhub_token
from authhub_token import PATTERN


def changed(key: str, position: int = 25) -> str:
    return key[:position] + ("Q" if key[position] != "Q" else "R") + key[position + 1:]


def test_the_token_lifecycle_over_http(hub, alice, authhub_live_server):
    base = authhub_live_server(hub)
    new = authhub_token.create_token(hub, "alice", name="live")
    with httpx.Client(base_url=base) as client:
        good = client.get("/whoami", headers={"Authorization": f"Token {new.key}"})
        assert good.status_code == 200
        assert good.json() == {"authenticated": True, "user": "alice", "scheme": "token"}

        typo = client.get("/whoami", headers={"Authorization": f"Token {changed(new.key)}"})
        assert typo.status_code == 401
        assert typo.json() == {"detail": "Invalid token."}
        assert typo.headers.get_list("www-authenticate") == ["Token"]

        no_key = client.get("/whoami", headers={"Authorization": "Token"})
        assert (no_key.status_code, no_key.json()["detail"]) == (401, "Invalid token header. No credentials provided.")

        anonymous = client.get("/protected")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Token"

        authhub_token.revoke_token(hub, new.token.id)
        revoked = client.get("/whoami", headers={"Authorization": f"Token {new.key}"})
        assert revoked.status_code == 401
        assert revoked.json() == {"detail": "Invalid token."}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_command_line_and_authhub_serve_as_a_user_runs_them(tmp_path: Path):
    script = shutil.which("authhub", path=str(Path(sys.executable).parent))
    assert script is not None, "the authhub console script is installed beside this Python"
    environ = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AUTHHUB_")},
        "PATH": f"{Path(script).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "AUTHHUB_SCHEMES": "token",
        "AUTHHUB_PASSWORD_TIME_COST": "1",
        "AUTHHUB_PASSWORD_MEMORY_COST": "8",
        "AUTHHUB_PASSWORD_PARALLELISM": "1",
    }

    def shell(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=environ, cwd=tmp_path,
                              timeout=60)

    made = shell('echo pw | authhub users add alice --password-stdin >/dev/null '
                 '&& KEY=$(authhub tokens create alice) && printf "%s" "$KEY"')
    assert made.returncode == 0, made.stderr
    key = made.stdout
    assert re.fullmatch(PATTERN, key) and authhub_token.keys.is_well_formed(key)
    failed = shell("KEY=$(authhub tokens create mallory)")
    assert failed.returncode == 1 and "no user named 'mallory'" in failed.stderr

    port = free_port()
    process = subprocess.Popen(["authhub", "serve", "--port", str(port), "--threads", "2"], env=environ,
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/whoami", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "authhub serve did not start in 30 s"
                time.sleep(0.1)
        headers = {"Authorization": f"Token {key}"}
        assert httpx.get(f"{base}/whoami", headers=headers).json()["user"] == "alice"
        assert httpx.get(f"{base}/whoami", headers={"Authorization": f"Token {changed(key)}"}).status_code == 401
        revoked = shell("authhub tokens revoke 1")
        assert revoked.returncode == 0 and "token 1 revoked" in revoked.stdout
        after = httpx.get(f"{base}/whoami", headers=headers)
        assert after.status_code == 401 and after.json() == {"detail": "Invalid token."}
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
