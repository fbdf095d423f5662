"""Twenty parallel redemptions of one authorization code: exactly one succeeds."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from authhub import AuthHub
from authhub_oauth.clients import create_client

from .conftest import PASSWORD, REDIRECT_URI, Browser

PARALLEL = 20


@pytest.fixture(params=["postgres", "sqlite"])
def hub(request: pytest.FixtureRequest, authhub_make_hub: Callable[..., AuthHub]) -> AuthHub:
    if request.param == "postgres":
        return authhub_make_hub(schemes=["oauth", "session"],
                                database_url=request.getfixturevalue("authhub_postgres_url"))
    return authhub_make_hub(schemes=["oauth", "session"])


def test_parallel_redemptions_of_one_code(hub: AuthHub, base: str, browser: Browser) -> None:
    hub.users.create("alice", PASSWORD)
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read"])
    assert secret is not None
    oauth = OAuth2Session(client.client_id, secret, scope="read", redirect_uri=REDIRECT_URI,
                          code_challenge_method="S256")
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    location = browser.authorize(url).headers["Location"]
    code = location.split("code=")[1].split("&")[0]

    barrier = threading.Barrier(PARALLEL)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def redeem() -> None:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier}
        barrier.wait(timeout=10)
        answer = requests.post(f"{base}/oauth/token", data=form, auth=(client.client_id, secret), timeout=30)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=redeem) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * (PARALLEL - 1)
    assert all(answer.json()["error"] == "invalid_grant" for answer in answers if answer.status_code == 400)
    # The losers were second uses of the code: what the winner got is revoked too (RFC 6749 §4.1.2).
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    whoami = requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {winner['access_token']}"}, timeout=10)
    assert whoami.status_code == 401


def test_parallel_refreshes_of_one_refresh_token(hub: AuthHub, base: str, browser: Browser) -> None:
    """One refresh wins; every other use is a reuse of a rotated token and ends the family."""
    hub.users.create("alice", PASSWORD)
    client, secret = create_client(hub, name="Web app", grant_types=["authorization_code", "refresh_token"],
                                   redirect_uris=[REDIRECT_URI], scopes=["read"])
    assert secret is not None
    oauth = OAuth2Session(client.client_id, secret, scope="read", redirect_uri=REDIRECT_URI,
                          code_challenge_method="S256")
    verifier = generate_token(64)
    url, _ = oauth.create_authorization_url(f"{base}/oauth/authorize", code_verifier=verifier)
    token = oauth.fetch_token(f"{base}/oauth/token", authorization_response=browser.authorize(url).headers["Location"],
                              code_verifier=verifier)

    barrier = threading.Barrier(PARALLEL // 2)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def refresh() -> None:
        barrier.wait(timeout=10)
        answer = requests.post(f"{base}/oauth/token", auth=(client.client_id, secret), timeout=30,
                               data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=refresh) for _ in range(PARALLEL // 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * (PARALLEL // 2 - 1)
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    for access_token in (token["access_token"], winner["access_token"]):
        whoami = requests.get(f"{base}/whoami", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
        assert whoami.status_code == 401
