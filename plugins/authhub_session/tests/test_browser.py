"""A real browser (Debian's Chromium, driven by Playwright) against the reference server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

import authhub
from authhub.testing import Site

from .conftest import PASSWORD, Bank


@pytest.fixture
def attacker(authhub_site: Callable[[str], Site]) -> Callable[[str, str], str]:
    """``attacker(host, html)`` serves one page from another loopback origin; returns its URL."""

    def serve(host: str, html: str) -> str:
        site = authhub_site(host)
        site.pages["/"] = html
        return f"{site.base}/"

    return serve


def auto_submit(action: str) -> str:
    return (f'<!doctype html><html><body><form id="f" method="post" action="{action}">'
            '<input type="hidden" name="to" value="mallory"></form>'
            "<script>document.getElementById('f').submit()</script></body></html>")


@pytest.fixture
def app(authhub_make_hub: Callable[..., authhub.AuthHub], authhub_live_server) -> tuple[str, Bank]:
    bank = Bank()
    hub = authhub_make_hub(schemes=["session"], plugins={"bank": bank})
    hub.users.create("alice", PASSWORD)
    return authhub_live_server(hub), bank


def whoami(page: Page) -> dict[str, Any]:
    return page.evaluate("fetch('/whoami').then(response => response.json())")


def test_sign_in_use_the_session_and_sign_out(authhub_browser: Browser, app: tuple[str, Bank]) -> None:
    base, bank = app
    context = authhub_browser.new_context()
    page = context.new_page()

    page.goto(f"{base}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    assert page.text_content("#username") == "alice"
    assert whoami(page) == {"authenticated": True, "user": "alice", "scheme": "session"}
    assert "authhub_session" not in page.evaluate("document.cookie")  # HttpOnly
    (cookie,) = [c for c in context.cookies() if c["name"] == "authhub_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"

    # a script on the page may act, with the token the page carries
    status = page.evaluate("""() => fetch('/transfer', {
        method: 'POST',
        headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content,
                  'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'to=bob'}).then(response => response.status)""")
    assert status == 200
    assert bank.transfers == [("alice", "bob")]

    page.click("text=Sign out")
    page.wait_for_url(f"{base}/")
    assert "Not signed in" in page.text_content("h1")
    assert whoami(page) == {"authenticated": False, "user": None, "scheme": None}
    assert not [c for c in context.cookies() if c["name"] == "authhub_session"]
    context.close()


def test_wrong_password_in_the_browser(authhub_browser: Browser, app: tuple[str, Bank]) -> None:
    base, _ = app
    page = authhub_browser.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.text_content("[role=alert]") == "Invalid username/password."
    assert whoami(page)["authenticated"] is False
    page.close()


# 127.0.0.1 on another port is the same site: the Lax cookie is sent, and the CSRF check refuses.
# 127.0.0.2 is another site: the browser withholds the Lax cookie, so the request is anonymous.
@pytest.mark.parametrize(("attacker_host", "refusal"), [
    ("127.0.0.1", "CSRF Failed: Origin checking failed"),
    ("127.0.0.2", "Authentication credentials were not provided."),
], ids=["same-site", "cross-site"])
def test_a_cross_origin_form_post_is_refused(
    authhub_browser: Browser, app: tuple[str, Bank], attacker: Callable[[str, str], str], attacker_host: str,
    refusal: str,
) -> None:
    base, bank = app
    context = authhub_browser.new_context()
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    evil = context.new_page()
    with evil.expect_response(f"{base}/transfer") as attack:
        evil.goto(attacker(attacker_host, auto_submit(f"{base}/transfer")))
    response = attack.value

    assert response.status == 403
    assert response.json()["detail"].startswith(refusal)
    assert bank.transfers == []
    page.reload()
    assert page.text_content("#username") == "alice"  # still signed in: nothing was done
    context.close()
