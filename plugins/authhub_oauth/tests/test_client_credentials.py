"""Client credentials with Authlib's OAuth2Session against the running reference server."""

from __future__ import annotations

import base64
import logging

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError


def test_client_credentials_token_calls_whoami(base: str, service: tuple[str, str]) -> None:
    client_id, secret = service
    client = OAuth2Session(client_id, secret, scope="read")
    token = client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")

    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token
    whoami = client.get(f"{base}/whoami").json()
    assert whoami == {"authenticated": True, "user": f"client:{client_id}", "scheme": "oauth"}


def test_client_secret_post_works_too(base: str, service: tuple[str, str]) -> None:
    client_id, secret = service
    client = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_post")
    token = client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")

    assert set(token["scope"].split()) == {"read", "write"}  # no scope asked: all registered ones


def test_wrong_secret_is_invalid_client(base: str, service: tuple[str, str]) -> None:
    client = OAuth2Session(service[0], "not-the-secret")
    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
    assert caught.value.error == "invalid_client"


def test_scope_not_registered_is_invalid_scope(base: str, service: tuple[str, str]) -> None:
    client = OAuth2Session(*service, scope="read admin")
    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
    assert caught.value.error == "invalid_scope"


def test_non_utf8_client_credentials_are_refused_not_a_crash(base: str, service: tuple[str, str]) -> None:
    credentials = base64.b64encode(service[0].encode() + b":\xff\xfe").decode()
    answer = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {credentials}"}, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.json()["detail"]


def test_percent_encoded_non_utf8_client_id_is_refused(base: str) -> None:
    credentials = base64.b64encode(b"%ff%fe:secret").decode()
    answer = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {credentials}"}, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_secret_in_the_query_string_is_not_accepted(base: str, service: tuple[str, str]) -> None:
    client_id, secret = service
    answer = requests.post(f"{base}/oauth/token?client_id={client_id}&client_secret={secret}",
                           data={"grant_type": "client_credentials"}, timeout=10)

    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == "invalid_client"


def test_code_flow_client_may_not_use_client_credentials(base: str, webapp: tuple[str, str]) -> None:
    client = OAuth2Session(*webapp)
    with pytest.raises(OAuthError) as caught:
        client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
    assert caught.value.error == "unauthorized_client"


def test_unknown_grant_type(base: str, service: tuple[str, str]) -> None:
    answer = requests.post(f"{base}/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"},
                           auth=service, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_non_utf8_form_body_is_invalid_request(base: str, service: tuple[str, str]) -> None:
    answer = requests.post(f"{base}/oauth/token", data=b"grant_type=client_credentials&scope=\xff",
                           headers={"Content-Type": "application/x-www-form-urlencoded"}, auth=service, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["detail"] == "The request body is not UTF-8."


def test_token_endpoint_answers_are_not_cached(base: str, service: tuple[str, str]) -> None:
    answer = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=service, timeout=10)

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"


def test_no_token_or_secret_in_debug_logs(
    base: str, service: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = OAuth2Session(*service)
    token = client.fetch_token(f"{base}/oauth/token", grant_type="client_credentials")
    client.get(f"{base}/whoami")

    assert caplog.records, "debug logging was captured"
    assert token["access_token"] not in caplog.text
    assert service[1] not in caplog.text
