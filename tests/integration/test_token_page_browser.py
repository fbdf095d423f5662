"""The self-service page in a real browser: Debian's Chromium, driven by Playwright, against the reference server.

It needs the session scheme (its login page), another distribution: tox's
``all`` environment has it and Playwright; the ``token`` environment has
authhub-token alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, Page

import authhub
import authhub_token

PASSWORD = "correct horse battery staple"




@pytest.fixture
def base(authhub_make_hub: Callable[..., authhub.AuthHub], authhub_live_server: Callable[..., str]) -> str:
    hub = authhub_make_hub(schemes=["token", "basic", "session"])
    hub.users.create("alice", PASSWORD)
    return authhub_live_server(hub)


def whoami(base: str, key: str) -> httpx.Response:
    return httpx.get(f"{base}/whoami", headers={"Authorization": f"Token {key}"})


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/account/tokens")
    page.wait_for_url(f"{base}/login?next=/account/tokens")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/account/tokens")


def test_create_list_and_revoke_a_token_in_the_browser(authhub_browser: Browser, base: str) -> None:
    context = authhub_browser.new_context(viewport={"width": 375, "height": 740})  # a phone
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    sign_in(page, base)
    assert page.text_content("h1") == "API tokens"
    assert page.text_content("#no-tokens") == "You have no tokens."

    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Expires after").select_option("30d")
    page.get_by_label("Scopes").fill("read write")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#new-key")

    key = page.get_by_label("Key").input_value()
    assert re.fullmatch(authhub_token.PATTERN, key)
    assert "shown this once" in (page.text_content(".key [role=alert]") or "")
    row = page.locator("#tokens tbody tr")
    assert row.count() == 1
    assert row.locator("th").text_content() == "laptop"
    assert row.locator("td").first.text_content() == "read write"
    assert whoami(base, key).json() == {"authenticated": True, "user": "alice", "scheme": "token"}

    # the stylesheet is applied (its hash is in the policy) and the page fits the phone's width
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "768px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.goto(f"{base}/account/tokens")  # shown once: not on the next visit
    assert page.locator("#new-key").count() == 0
    assert key not in page.content()

    page.get_by_role("button", name="Revoke token laptop").click()
    page.wait_for_selector("#notice")
    assert page.text_content("#notice") == "Token “laptop” revoked."
    assert page.locator("#tokens").count() == 0
    assert whoami(base, key).status_code == 401
    assert problems == []  # no request refused, no style blocked by the policy
    context.close()


def test_a_bad_lifetime_typed_into_the_form_is_explained(authhub_browser: Browser, base: str) -> None:
    page = authhub_browser.new_page()
    sign_in(page, base)
    # a hand-edited form: the menu offers nothing past max_lifetime
    page.evaluate("document.querySelector('#token-expires').add(new Option('forever', 'never'))")
    page.get_by_label("Name").fill("ci")
    page.get_by_label("Expires after").select_option("never")
    page.get_by_role("button", name="Create token").click()
    alert = page.get_by_role("alert")
    assert alert.text_content() == "expires: 'never' is out of range: a token made here lives at most 365d."
    assert page.get_by_label("Name").input_value() == "ci"
    assert page.locator("#new-key").count() == 0
    assert httpx.get(f"{base}/tokens", auth=("alice", PASSWORD)).json() == []
    page.close()
