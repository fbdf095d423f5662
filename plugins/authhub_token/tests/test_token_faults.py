"""The database goes away and comes back: token requests fail closed (503) and recover by themselves."""

from __future__ import annotations

import httpx
import pytest

import authhub_token
from authhub.server import make_app
from authhub.testservers import PostgresServer


@pytest.fixture
def postgres():
    server = PostgresServer()
    server.start()
    yield server
    server.destroy()


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_down_then_back(make_hub, postgres):
    hub = make_hub(database_url=postgres.url)
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    good = {"Authorization": f"Token {new.key}"}
    with httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://t") as client:
        for _ in range(3):  # the lookup keeps its connection
            assert client.get("/whoami", headers=good).json()["user"] == "alice"

        postgres.stop()
        down = client.get("/whoami", headers=good)
        assert down.status_code == 503
        assert down.json() == {"detail": "Authentication store unavailable."}
        assert client.get("/whoami").json()["authenticated"] is False  # no credentials: no store needed
        typo = client.get("/whoami", headers={"Authorization": f"Token {new.key[:-1]}x"})
        assert typo.status_code == 401  # the checksum needs no database

        postgres.start()
        # The very first request after the restart succeeds: a dropped kept connection is replaced.
        assert client.get("/whoami", headers=good).json()["user"] == "alice"
        authhub_token.revoke_token(hub, new.token.id)
        assert client.get("/whoami", headers=good).status_code == 401


@pytest.mark.postgres
@pytest.mark.slow
def test_a_server_restart_while_idle_costs_no_failed_request(make_hub, postgres):
    hub = make_hub(database_url=postgres.url)
    hub.users.create("alice", "pw")
    new = authhub_token.create_token(hub, "alice")
    from .conftest import request

    assert hub.authenticate(request(hub, f"Token {new.key}")).is_authenticated
    postgres.stop()
    postgres.start()
    assert hub.authenticate(request(hub, f"Token {new.key}")).user.username == "alice"
    assert hub.store.engine.pool.checkedout() == 0


def test_a_sqlite_file_that_cannot_be_opened_is_503(make_hub, tmp_path):
    hub = make_hub(upgrade=False, database_url=f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    with httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://t") as client:
        response = client.get("/whoami", headers={"Authorization": f"Token {authhub_token.keys.generate_key()}"})
    assert response.status_code == 503
    assert response.json() == {"detail": "Authentication store unavailable."}
