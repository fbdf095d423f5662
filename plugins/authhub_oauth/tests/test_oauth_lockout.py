"""Wrong client secrets and guessed bearer tokens are slowed down, then locked out (429)."""

from __future__ import annotations

import base64
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


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.mark.parametrize("header", [
    _basic(b"no-colon-at-all"),
    {"Authorization": "Basic !!!not-base64"},
    _basic(b"\xff\xfe:secret"),
    _basic(b":secret"),
    _basic(b"id%00:secret"),
    {"Authorization": "Basic"},
], ids=["no-colon", "bad-base64", "not-utf8", "empty-id", "nul", "empty"])
def test_a_malformed_client_basic_header_is_invalid_client_and_counts(strict_hub, authhub_live_server, header):
    # Issue 14: a Basic header without a colon plus client_id/client_secret in the body never
    # reached the lockout; 25 wrong secrets were all 401 and the right one still got a token.
    client, secret = create_client(strict_hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(strict_hub)
    body = {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": "wrong"}
    statuses = []
    for _ in range(5):
        response = httpx.post(f"{base}/oauth/token", data=body, headers=header)
        statuses.append(response.status_code)
        if response.status_code == 401:
            assert response.json()["error"] == "invalid_client"
    assert statuses[:3] == [401, 401, 401] and statuses[-1] == 429
    right = httpx.post(f"{base}/oauth/token", data={**body, "client_secret": secret})
    assert right.status_code == 429, "the right secret from a locked address waits out the lock"


def test_two_client_authentication_methods_at_once_are_refused(strict_hub, authhub_live_server):
    client, secret = create_client(strict_hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    other, _ = create_client(strict_hub, name="other", grant_types=["client_credentials"])
    base = authhub_live_server(strict_hub)
    url = f"{base}/oauth/token"
    grant = {"grant_type": "client_credentials"}
    both = httpx.post(url, data={**grant, "client_id": client.client_id, "client_secret": secret},
                      auth=(client.client_id, secret))
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    mixed = httpx.post(url, data={**grant, "client_id": other.client_id}, auth=(client.client_id, secret))
    assert mixed.status_code == 400 and mixed.json()["error"] == "invalid_request"
    twice = httpx.post(url, content=f"grant_type=client_credentials&client_id={client.client_id}"
                                    f"&client_id={other.client_id}&client_secret={secret}",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert twice.status_code == 400
    # Sending the same id in the body beside Basic is one method, and works.
    same = httpx.post(url, data={**grant, "client_id": client.client_id}, auth=(client.client_id, secret))
    assert same.status_code == 200


def test_the_lockout_covers_every_client_id_a_request_names(strict_hub, authhub_live_server):
    client, secret = create_client(strict_hub, name="svc", grant_types=["client_credentials"], scopes=["read"])
    base = authhub_live_server(strict_hub)
    for _ in range(4):
        httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, "no"))
    # Locked by Basic: the body form of the same id is locked too, and so is the address.
    body = {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret}
    assert httpx.post(f"{base}/oauth/token", data=body).status_code == 429
    for endpoint in ("revoke", "introspect"):
        answer = httpx.post(f"{base}/oauth/{endpoint}", data={"token": "x"}, auth=(client.client_id, secret))
        assert answer.status_code == 429


@pytest.mark.parametrize("endpoint", ["revoke", "introspect"])
def test_an_unsupported_token_type_hint_is_400_and_not_a_failed_authentication(strict_hub, authhub_live_server,
                                                                               endpoint):
    client, secret = create_client(strict_hub, name="svc", grant_types=["client_credentials"], scopes=["read"],
                                   may_introspect=True)
    base = authhub_live_server(strict_hub)
    for _ in range(6):
        answer = httpx.post(f"{base}/oauth/{endpoint}", data={"token": "x", "token_type_hint": "id_token"},
                            auth=(client.client_id, secret))
        assert answer.status_code == 400  # RFC 7009 §2.2.1
        assert answer.json()["error"] == "unsupported_token_type"
    good = httpx.post(f"{base}/oauth/{endpoint}", data={"token": "x", "token_type_hint": "access_token"},
                      auth=(client.client_id, secret))
    assert good.status_code == 200
