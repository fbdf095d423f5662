"""Basic with an application's own user store: the name reaches the store as the client sent it.

The RFC 8265 profile (lookalike names folded) is the built-in store's rule; another
store decides itself how names compare.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

import authhub

PASSWORD = "correct horse battery staple"


def test_an_applications_own_store_gets_the_name_as_the_client_sent_it(
    authhub_account_hub: Callable[..., authhub.AuthHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = authhub_account_hub(schemes=["basic"])
    alice = hub.users.add("Alice", PASSWORD)
    received: list[str] = []
    check_password = hub.users.check_password

    def recording(username: str, password: str) -> object:
        received.append(username)
        return check_password(username, password)

    monkeypatch.setattr(hub.users, "check_password", recording)

    def basic(name: str) -> authhub.Request:
        token = base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()
        return authhub.Request("GET", "/whoami", [("Authorization", f"Basic {token}")], hub=hub, client="127.0.0.1")

    assert hub.authenticate(basic("Alice")).user == alice
    with pytest.raises(authhub.AuthenticationFailed):
        hub.authenticate(basic("\uff21lice"))  # fullwidth A: this store compares names exactly
    assert received == ["Alice", "\uff21lice"]
    assert hub.users.get_by_username("alice") is None
