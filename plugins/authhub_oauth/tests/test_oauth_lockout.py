"""Wrong client secrets and guessed bearer tokens are slowed down, then locked out (429)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from authhub import AuthHub
from authhub_oauth.clients import create_client


@pytest.fixture
def strict_hub(authhub_make_hub: Any) -> AuthHub:
    return authhub_make_hub(schemes=["oauth", "session"], lockout_backoff_after=3, lockout_threshold=4)


def test_wrong_client_secrets_lock_the_client_out(strict_hub, authhub_live_server):
    client, secret = create_client(strict_hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(strict_hub)
    statuses = []
    for _ in range(4):
        response = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client.client_id, "wrong-secret"))
        statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    locked = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(client.client_id, secret))
    assert locked.status_code == 429  # even the right secret waits out the lock from this address
    assert int(locked.headers["retry-after"]) >= 1


def test_a_good_client_is_never_slowed(strict_hub, authhub_live_server):
    client, secret = create_client(strict_hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(strict_hub)
    for _ in range(8):
        response = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(client.client_id, secret))
        assert response.status_code == 200


def test_guessed_bearer_tokens_lock_out(strict_hub, authhub_live_server):
    base = authhub_live_server(strict_hub)
    statuses = [
        httpx.get(f"{base}/whoami", headers={"Authorization": "Bearer guessedtoken123"}).status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[-1] == 429
