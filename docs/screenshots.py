"""Take the screenshots of docs/pages.md in Debian's Chromium (Playwright) against a throwaway hub.

    python docs/screenshots.py            # writes docs/images/pages-*.png

It serves a hub with the token, oauth and session schemes on a temporary
SQLite database, signs in as a made-up user, and photographs the login
page, the consent page (desktop and phone width) and the token page, then
shrinks each PNG with pngquant and optipng when they are installed
(``apt-get install pngquant optipng``). Nothing here is a real credential.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Browser, Page, sync_playwright

from authhub.testing import LiveServers, hub_for_tests
from authhub_oauth.clients import create_client

IMAGES = Path(__file__).parent / "images"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PASSWORD = "correct horse battery staple"  # noqa: S105 - a made-up user of a throwaway database
DESKTOP = {"width": 800, "height": 420}
PHONE = {"width": 375, "height": 560}
SCOPES = {"profile": "See your name and e-mail address", "photos.read": "See your photos",
          "photos.write": "Upload, change and delete your photos"}


def sign_in(page: Page, username: str = "alice") -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def shoot(page: Page, name: str) -> Path:
    path = IMAGES / f"pages-{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


def shrink(path: Path) -> None:
    """A palette PNG (pngquant), then lossless recompression (optipng), when the tools are there."""
    pngquant, optipng = shutil.which("pngquant"), shutil.which("optipng")
    # fixed argv, no shell; the path is our own file
    if pngquant:
        subprocess.run([pngquant, "--force", "--skip-if-larger", "--strip", "--quality=70-95",  # noqa: S603
                        "--output", str(path), str(path)], check=False)
    if optipng:
        subprocess.run([optipng, "-quiet", "-o2", "-strip", "all", str(path)], check=True)  # noqa: S603


def take(browser: Browser, base: str, authorize_url: str) -> list[Path]:
    shots: list[Path] = []
    desktop = browser.new_context(viewport=DESKTOP, device_scale_factor=1, color_scheme="light")
    page = desktop.new_page()
    page.goto(f"{base}/login")
    shots.append(shoot(page, "login"))
    page.goto(authorize_url)
    sign_in(page)
    page.wait_for_url(f"{base}/oauth/authorize?*")
    shots.append(shoot(page, "consent"))
    page.goto(f"{base}/account/tokens")
    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Scopes").fill("photos.read")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#new-key")
    shots.append(shoot(page, "tokens"))
    desktop.close()

    phone = browser.new_context(viewport=PHONE, device_scale_factor=1, color_scheme="light", is_mobile=True)
    page = phone.new_page()
    page.goto(authorize_url)
    sign_in(page)
    page.wait_for_url(f"{base}/oauth/authorize?*")
    shots.append(shoot(page, "consent-phone"))
    phone.close()
    return shots


def main() -> int:
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        hub = hub_for_tests(Path(directory), schemes=["token", "oauth", "basic", "session"],
                            oauth={"scope_descriptions": SCOPES})
        hub.upgrade()
        hub.users.create("alice", PASSWORD)
        client, secret = create_client(hub, name="Photo printer", grant_types=["authorization_code"],
                                       redirect_uris=["https://photos.example/callback"], scopes=list(SCOPES))
        servers = LiveServers()
        base = servers.start(hub)
        oauth = OAuth2Session(client.client_id, secret, scope=" ".join(SCOPES),
                              redirect_uri="https://photos.example/callback", code_challenge_method="S256")
        authorize_url, _ = oauth.create_authorization_url(f"{base}/oauth/authorize", code_verifier=generate_token(64))
        try:
            with sync_playwright() as playwright:
                executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                shots = take(browser, base, authorize_url)
                browser.close()
        finally:
            servers.stop()
            hub.close()
    for path in shots:
        shrink(path)
        print(f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: "
              f"{path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
