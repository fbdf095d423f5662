"""Swagger UI's Authorize button in a real browser (Debian's Chromium, driven by Playwright).

A FastAPI application on uvicorn mounts the hub's routes (the oauth
plugin's ``/oauth/*``, the session plugin's ``/login``) and documents the
oauth scheme with its flows; Swagger UI (its files from the
``swagger-ui-py`` package, served by the application: no CDN) obtains a
token through each flow and calls a protected operation with it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Page, Request

import authhub
import authhub_session  # noqa: F401 - the code flow's consent page (the adapters env installs it)
from authhub.contrib.fastapi import FastAPIAuth
from authhub_oauth import clients as authhub_oauth_clients  # the adapters env installs it

PASSWORD = "correct horse battery"


def swagger_ui_files() -> Path:
    """Swagger UI 5's bundle, as the ``swagger-ui-py`` distribution ships it."""
    return Path(str(files("swagger_ui") / "static"))


def make_app(hub: authhub.AuthHub, swagger_oauth: dict[str, Any]) -> FastAPI:
    """The API, its Swagger UI and the hub's routes; ``swagger_oauth`` is read on every ``/docs``."""
    app = FastAPI(docs_url=None, redoc_url=None)
    auth = FastAPIAuth(hub)
    auth.document(app)
    app.include_router(auth.hub_router())
    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_files()), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="authhub test API",
            swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
            init_oauth=dict(swagger_oauth) or None,
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/me")
    def me(user: Any = Depends(auth.user)) -> dict[str, Any]:
        return {"user": user.username}

    return app


class Uvicorn:
    """Applications on uvicorn in threads, each on a free loopback port."""

    def __init__(self) -> None:
        self.running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(self, app: FastAPI) -> str:
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.running.append((server, thread))
        return f"http://127.0.0.1:{listening.getsockname()[1]}"

    def stop(self) -> None:
        while self.running:
            server, thread = self.running.pop()
            server.should_exit = True
            thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], str]]:
    servers = Uvicorn()
    yield servers.start
    servers.stop()




@pytest.fixture
def hub(authhub_make_hub: Callable[..., authhub.AuthHub]) -> authhub.AuthHub:
    hub = authhub_make_hub(schemes=["oauth", "session"])
    hub.users.create("alice", PASSWORD)
    return hub


def open_authorize_dialog(page: Page, base: str) -> None:
    page.goto(f"{base}/docs")
    page.locator("button.btn.authorize").first.click()
    page.locator(".auth-container").first.wait_for()


def call_me(page: Page) -> tuple[str, str]:
    """Try ``GET /me`` in Swagger UI; returns the status and the body it shows."""
    page.locator(".opblock-summary-path", has_text="/me").first.click()
    page.locator("button.try-out__btn").click()
    page.locator("button.execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    body = page.locator(".live-responses-table tbody .response-col_description .microlight").first
    return status.inner_text().strip(), body.inner_text()


def bearer_headers(page: Page) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        if request.url.endswith("/me"):
            seen.append(request.headers.get("authorization", ""))

    page.on("request", record)
    return seen


def test_the_document_describes_the_flows_swagger_ui_reads(
    hub: authhub.AuthHub, serve: Any, authhub_browser: Browser
) -> None:
    base = serve(make_app(hub, {}))
    page = authhub_browser.new_page()
    try:
        open_authorize_dialog(page, base)
        dialog = page.locator(".modal-ux").inner_text()
    finally:
        page.close()
    assert "authorizationCode" in dialog and "clientCredentials" in dialog
    assert "/oauth/authorize" in dialog and "/oauth/token" in dialog


def test_authorize_with_client_credentials(hub: authhub.AuthHub, serve: Any, authhub_browser: Browser) -> None:
    client, secret = authhub_oauth_clients.create_client(hub, name="Swagger", grant_types=["client_credentials"])
    assert secret is not None
    base = serve(make_app(hub, {}))
    page = authhub_browser.new_page()
    try:
        sent = bearer_headers(page)
        open_authorize_dialog(page, base)
        flow = page.locator(".auth-container", has_text="clientCredentials")
        flow.locator("input[data-name='clientId']").fill(client.client_id)
        flow.locator("input[data-name='clientSecret']").fill(secret)
        flow.locator("button.authorize").click()
        flow.locator("button", has_text="Logout").wait_for()
        page.locator(".modal-ux button.close-modal").click()
        status, body = call_me(page)
    finally:
        page.close()
    assert status == "200"
    assert f"client:{client.client_id}" in body
    assert len(sent) == 1 and sent[0].startswith("Bearer ")


def test_authorize_with_the_code_flow_and_pkce(hub: authhub.AuthHub, serve: Any, authhub_browser: Browser) -> None:
    swagger_oauth: dict[str, Any] = {"usePkceWithAuthorizationCodeGrant": True}
    base = serve(make_app(hub, swagger_oauth))
    client, secret = authhub_oauth_clients.create_client(
        hub, name="Swagger UI", grant_types=["authorization_code"], redirect_uris=[f"{base}/docs/oauth2-redirect"],
        public=True,
    )
    assert secret is None
    swagger_oauth["clientId"] = client.client_id
    context = authhub_browser.new_context()
    page = context.new_page()
    try:
        sent = bearer_headers(page)
        open_authorize_dialog(page, base)
        flow = page.locator(".auth-container", has_text="authorizationCode")
        with context.expect_page() as popup_info:
            flow.locator("button.authorize").click()
        popup = popup_info.value
        popup.wait_for_load_state()
        popup.fill("input[name=username]", "alice")
        popup.fill("input[name=password]", PASSWORD)
        popup.click("button[type=submit]")
        popup.locator("button[value=allow]").wait_for()
        assert popup.locator("#client").inner_text() == "Swagger UI"
        with popup.expect_event("close", timeout=10_000):
            popup.click("button[value=allow]")
        flow.locator("button", has_text="Logout").wait_for()
        page.locator(".modal-ux button.close-modal").click()
        status, body = call_me(page)
    finally:
        context.close()
    assert status == "200"
    assert '"alice"' in body
    assert len(sent) == 1 and sent[0].startswith("Bearer ")
