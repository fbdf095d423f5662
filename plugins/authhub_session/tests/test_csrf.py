"""CSRF: DRF's rule for session-authenticated unsafe requests, and nothing done on refusal."""

from __future__ import annotations

import httpx
import pytest

import authhub
from authhub_session import csrf

from .conftest import ApiKeyScheme, Bank, get, session_headers


def test_masked_tokens_differ_but_carry_the_secret() -> None:
    secret = csrf.new_secret()
    first, second = csrf.mask(secret), csrf.mask(secret)
    assert first != second
    assert csrf.matches(first, secret) and csrf.matches(second, secret)
    assert not csrf.matches(first, csrf.new_secret())
    assert not csrf.matches(secret, secret)  # the bare secret is not a token
    for junk in ("", "é" * 86, "!" * 86, first[:-4]):
        assert not csrf.matches(junk, secret)


@pytest.mark.parametrize(("origin", "normal"), [
    ("https://Example.COM", "https://example.com"),
    ("https://example.com:443", "https://example.com"),
    ("http://example.com:80", "http://example.com"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("null", ""),
    ("http://example.com:99999", ""),
])
def test_normalize_origin(origin: str, normal: str) -> None:
    assert csrf.normalize_origin(origin) == normal


@pytest.fixture
def signed_in(hub: authhub.AuthHub, alice: authhub.User) -> dict[str, str]:
    return session_headers(hub, alice)


def post(client: httpx.Client, cookie: str, **kwargs) -> httpx.Response:
    client.cookies.clear()
    headers = {"Cookie": cookie, **kwargs.pop("headers", {})}
    return client.post("/transfer", headers=headers, **kwargs)


def test_unsafe_request_without_token_is_refused_and_nothing_is_done(
    bank: Bank, signed_in: dict[str, str], live: httpx.Client
) -> None:
    response = post(live, signed_in["Cookie"], data={"to": "mallory"})
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF token missing."}

    wrong = post(live, signed_in["Cookie"], data={"to": "mallory", "csrf_token": csrf.mask(csrf.new_secret())})
    assert wrong.json() == {"detail": "CSRF Failed: CSRF token incorrect."}
    assert bank.transfers == []


def test_token_in_header_or_form_field_is_accepted(bank: Bank, signed_in: dict[str, str], live: httpx.Client) -> None:
    by_header = post(live, signed_in["Cookie"], headers={"X-CSRF-Token": signed_in["X-CSRF-Token"]},
                     data={"to": "bob"})
    by_field = post(live, signed_in["Cookie"], data={"to": "carol", "csrf_token": signed_in["X-CSRF-Token"]})

    assert by_header.status_code == by_field.status_code == 200
    assert bank.transfers == [("alice", "bob"), ("alice", "carol")]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_needs_the_token(hub: authhub.AuthHub, signed_in: dict[str, str], method: str) -> None:
    with pytest.raises(authhub.PermissionDenied, match="CSRF token missing"):
        get(hub, method=method, cookie=signed_in["Cookie"]).identity
    ok = get(hub, method=method, cookie=signed_in["Cookie"], headers={"x-csrf-token": signed_in["X-CSRF-Token"]})
    assert ok.identity.scheme == "session"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_need_no_token(hub: authhub.AuthHub, signed_in: dict[str, str], method: str) -> None:
    assert get(hub, method=method, cookie=signed_in["Cookie"]).identity.user.username == "alice"


def test_another_sites_origin_is_refused_even_with_the_token(
    bank: Bank, signed_in: dict[str, str], live: httpx.Client
) -> None:
    response = post(live, signed_in["Cookie"], data={"to": "mallory"},
                    headers={"X-CSRF-Token": signed_in["X-CSRF-Token"], "Origin": "http://evil.example"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "CSRF Failed: Origin checking failed - http://evil.example does not match any trusted origins."
    }
    null = post(live, signed_in["Cookie"], data={"to": "mallory"},
                headers={"X-CSRF-Token": signed_in["X-CSRF-Token"], "Origin": "null"})
    assert null.status_code == 403
    same = post(live, signed_in["Cookie"], data={"to": "bob"},
                headers={"X-CSRF-Token": signed_in["X-CSRF-Token"], "Origin": str(live.base_url).rstrip("/")})
    assert same.status_code == 200
    assert bank.transfers == [("alice", "bob")]


def test_trusted_origins(make_hub) -> None:
    hub = make_hub(session={"trusted_origins": ["https://app.example.com"]})
    alice = hub.users.create("alice", "pw")
    headers = session_headers(hub, alice)
    token = {"x-csrf-token": headers["X-CSRF-Token"]}
    trusted = get(hub, method="POST", cookie=headers["Cookie"], headers={**token, "origin": "https://app.example.com"})
    assert trusted.identity.scheme == "session"
    with pytest.raises(authhub.PermissionDenied, match="Origin checking failed"):
        get(hub, method="POST", cookie=headers["Cookie"],
            headers={**token, "origin": "https://evil.example.com"}).identity


def test_referer_is_checked_over_https(hub: authhub.AuthHub, signed_in: dict[str, str]) -> None:
    token = {"x-csrf-token": signed_in["X-CSRF-Token"]}

    def over_https(referer: str | None) -> authhub.Request:
        headers = {**token, **({"referer": referer} if referer else {})}
        return get(hub, method="POST", cookie=signed_in["Cookie"], headers=headers, url_scheme="https")

    assert over_https("https://testserver/page").identity.scheme == "session"
    assert over_https(None).identity.scheme == "session"
    for referer, reason in [
        ("https://evil.example/page", "https://evil.example/page does not match any trusted origins."),
        ("http://testserver/page", "Referer is insecure while host is secure."),
        ("not a url", "Referer is malformed."),
    ]:
        with pytest.raises(authhub.PermissionDenied) as refused:
            over_https(referer).identity
        assert refused.value.detail == f"CSRF Failed: Referer checking failed - {reason}"
    # over plain HTTP the Referer is not used
    plain = get(hub, method="POST", cookie=signed_in["Cookie"], headers={**token, "referer": "http://evil.example/"})
    assert plain.identity.scheme == "session"


def test_other_schemes_are_not_subject_to_the_session_csrf_rule(make_hub, authhub_live_server) -> None:
    bank = Bank()
    hub = make_hub(schemes=["apikey", "session"], plugins={"apikey": ApiKeyScheme(), "bank": bank})
    alice = hub.users.create("alice", "pw")
    cookie = session_headers(hub, alice)["Cookie"]
    base = authhub_live_server(hub)

    # a session cookie rides along, but the API key answers first: no CSRF token needed
    response = httpx.post(f"{base}/transfer", headers={"X-Api-Key": "alice-key", "Cookie": cookie},
                          data={"to": "bob"})
    assert response.json() == {"done": True, "scheme": "apikey"}
    # the cookie alone is held to the rule
    refused = httpx.post(f"{base}/transfer", headers={"Cookie": cookie}, data={"to": "mallory"})
    assert refused.status_code == 403
    assert bank.transfers == [("alice", "bob")]


def test_form_body_stays_readable_by_a_wsgi_application(hub: authhub.AuthHub, signed_in: dict[str, str]) -> None:
    import io

    from authhub.wsgi import AuthMiddleware, request_of

    seen: list[bytes] = []

    def app(environ, start_response):
        request_of(environ).identity
        seen.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    body = f"to=bob&csrf_token={signed_in['X-CSRF-Token']}".encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_HOST": "testserver", "wsgi.url_scheme": "http",
        "HTTP_COOKIE": signed_in["Cookie"], "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    }
    statuses: list[str] = []
    AuthMiddleware(app, hub)(environ, lambda status, headers, *exc: statuses.append(status))
    assert statuses == ["200 OK"]
    assert seen == [body]
