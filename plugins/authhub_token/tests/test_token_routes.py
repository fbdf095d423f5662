"""The token endpoints on the reference server (``/tokens``), with authhub-token alone installed.

Basic and the session scheme are other distributions, so here the caller
who may create tokens signs in with a tiny password scheme of the test's
own (``Authorization: Password name:password``, checked by the user
store), named in ``create_schemes``. The same endpoints with the real
Basic and session schemes are in ``tests/integration/test_token_routes_session.py`` (it needs both plugins).
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import authhub
import authhub_token
from authhub.server import make_app
from authhub.testing import hub_for_tests

from .conftest import listening, refused_within, scheme_of

PASSWORD = "alice-password-1"
OTHER_PASSWORD = "bob-password-2"
FIELDS = {"id", "name", "scopes", "created_at", "last_used_at", "expires_at"}


class PasswordScheme:
    """``Authorization: Password name:password``: a real check against the hub's user store, nothing more."""

    @authhub.hookimpl
    def authenticate(self, request: authhub.Request, hub: authhub.AuthHub) -> tuple[Any, None] | None:
        value = request.credentials("Password")
        if value is None:
            return None
        name, _, password = value.partition(":")
        return hub.users.check_password(name, password), None

    @authhub.hookimpl
    def challenge(self) -> str:
        return "Password"


def password(name: str = "alice", secret: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Password {name}:{secret}"}


def token(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


class Site:
    """A hub with the token scheme and the test's password scheme, and a client of its reference app."""

    def __init__(self, hub: authhub.AuthHub) -> None:
        self.hub = hub
        self.client = httpx.Client(transport=httpx.WSGITransport(app=make_app(hub)), base_url="http://testserver")

    def create(self, headers: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        return self.client.post("/tokens", json=options, headers=headers if headers is not None else password())

    def key(self, headers: dict[str, str] | None = None, **options: Any) -> str:
        response = self.create(headers, **options)
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    def whoami(self, key: str) -> httpx.Response:
        return self.client.get("/whoami", headers=token(key))

    def stored(self) -> list[authhub_token.TokenRecord]:
        return authhub_token.list_tokens(self.hub)


@pytest.fixture
def make_site(make_hub: Callable[..., authhub.AuthHub]) -> Callable[..., Site]:
    def make(database_url: str | None = None, **token_settings: Any) -> Site:
        hub = make_hub(schemes=["token", "password"], plugins={"password": PasswordScheme()},
                       token={"create_schemes": ["password"], **token_settings},
                       **({"database_url": database_url} if database_url is not None else {}))
        hub.users.create("alice", PASSWORD)
        hub.users.create("bob", OTHER_PASSWORD)
        return Site(hub)

    return make


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


# -- POST /tokens ---------------------------------------------------------------------------


def test_a_signed_in_caller_gets_a_new_token_whose_key_is_shown_once(site: Site) -> None:
    response = site.create(name="ci", expires="30d", scopes=["write", "read"])

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == FIELDS | {"key"}
    assert re.fullmatch(authhub_token.PATTERN, body["key"])
    assert (body["name"], body["scopes"], body["last_used_at"]) == ("ci", ["read", "write"], None)
    created = dt.datetime.fromisoformat(body["created_at"])
    assert dt.datetime.fromisoformat(body["expires_at"]) - created == dt.timedelta(days=30)
    assert site.whoami(body["key"]).json() == {"authenticated": True, "user": "alice", "scheme": "token"}
    (record,) = site.stored()
    assert (record.id, record.username, record.name) == (body["id"], "alice", "ci")


def test_options_may_come_as_a_form_with_scopes_separated_by_spaces(site: Site) -> None:
    response = site.client.post("/tokens", data={"name": "deploy", "scopes": "read  deploy", "expires": "12h",
                                                 "csrf_token": "a session's field, not an option"},
                                headers=password())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["scopes"]) == ("deploy", ["deploy", "read"])
    lifetime = dt.datetime.fromisoformat(body["expires_at"]) - dt.datetime.fromisoformat(body["created_at"])
    assert lifetime == dt.timedelta(hours=12)


def test_without_options_the_token_gets_the_defaults(site: Site) -> None:
    response = site.client.post("/tokens", headers=password())
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["scopes"]) == ("default", [])
    # no lifetime setting: the longest a token made over HTTP may live (max_lifetime, 365d)
    lifetime = dt.datetime.fromisoformat(body["expires_at"]) - dt.datetime.fromisoformat(body["created_at"])
    assert lifetime == dt.timedelta(days=365)


@pytest.mark.parametrize(("settings", "asked", "lifetime"), [
    ({"lifetime": "7d"}, None, dt.timedelta(days=7)),
    ({"lifetime": "900d"}, None, dt.timedelta(days=365)),
    ({"max_lifetime": "1h"}, "60m", dt.timedelta(hours=1)),
    ({"max_lifetime": ""}, "never", None),
    ({"max_lifetime": ""}, None, None),
    ({"max_lifetime": "", "lifetime": "2w"}, None, dt.timedelta(weeks=2)),
])
def test_the_lifetime_within_max_lifetime(make_site: Callable[..., Site], settings: dict[str, Any],
                                          asked: str | None, lifetime: dt.timedelta | None) -> None:
    site = make_site(**settings)
    body = site.create(**({"expires": asked} if asked is not None else {})).json()
    if lifetime is None:
        assert body["expires_at"] is None
    else:
        made = dt.datetime.fromisoformat(body["created_at"])
        assert dt.datetime.fromisoformat(body["expires_at"]) - made == lifetime


def test_a_token_cannot_mint_more_tokens(site: Site) -> None:
    key = site.key(name="broad")  # no scopes: everything alice may do
    scoped = site.key(name="narrow", scopes=["read"])
    for used in (key, scoped):
        response = site.create(token(used), name="more", scopes=["admin"])
        assert response.status_code == 403
        assert response.json() == {"detail": "Tokens are created by a caller signed in with password, not with a "
                                             "token: a token cannot mint more."}
    assert [record.name for record in site.stored()] == ["broad", "narrow"]


def test_a_scheme_left_out_of_create_schemes_cannot_create(make_hub: Callable[..., authhub.AuthHub]) -> None:
    hub = make_hub(schemes=["token", "password"], plugins={"password": PasswordScheme()})  # basic, session only
    hub.users.create("alice", PASSWORD)
    site = Site(hub)
    response = site.create(name="x")
    assert response.status_code == 403
    assert "signed in with basic or session" in response.json()["detail"]
    assert site.stored() == []


def test_an_anonymous_caller_gets_401_with_the_challenges(site: Site) -> None:
    response = site.client.post("/tokens", json={"name": "x"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers.get_list("www-authenticate") == ["Token", "Password"]
    response = site.create(password(secret="wrong"), name="x")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username/password."}
    assert site.stored() == []


@pytest.mark.parametrize(("options", "status", "detail"), [
    ({"expires": "400d"}, 400, "expires: '400d' is out of range: a token made here lives at most 365d."),
    ({"expires": "never"}, 400, "expires: 'never' is out of range: a token made here lives at most 365d."),
    ({"expires": "99999999999999999d"}, 400,
     "expires: '99999999999999999d' is too long a duration to keep; use 'never' for one that does not end."),
    ({"expires": "9" * 5000 + "d"}, 400, "expires: not a duration; use 45s, 30m, 12h, 90d, 2w or 'never'."),
    ({"expires": "soon"}, 400, "expires: 'soon' is not a duration; use a positive number with a unit: 45s, 30m, "
                               "12h, 90d, 2w, or 'never'."),
    ({"expires": "0s"}, 400, "expires: '0s' is not a duration; use a positive number with a unit: 45s, 30m, "
                             "12h, 90d, 2w, or 'never'."),
    ({"expires": 30}, 400, 'expires: must be a duration such as "30d" (45s, 30m, 12h, 90d, 2w) or "never".'),
    ({"name": 5}, 400, "name: must be a string."),
    ({"name": ""}, 400, "a token name must not be empty."),
    ({"name": "x" * 101}, 400, "a token name is at most 100 characters."),
    ({"name": "tab\there"}, 400, "a token name must not contain control characters."),
    ({"scopes": "read"}, 400, 'scopes: must be a list of scope names, such as ["read", "write"].'),
    ({"scopes": ["read", 1]}, 400, 'scopes: must be a list of scope names, such as ["read", "write"].'),
    ({"scopes": ["two words"]}, 400, "scope 'two words' must be a non-empty name without spaces."),
    ({"scope": ["read"]}, 400, "Unknown option(s) 'scope'; a token takes name, expires, scopes."),
])
def test_bad_options_are_refused_and_change_nothing(site: Site, options: dict[str, Any], status: int,
                                                    detail: str) -> None:
    response = site.create(**options)
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert site.stored() == []


@pytest.mark.parametrize(("content", "content_type", "status", "detail"), [
    (b"{not json", "application/json", 400, "The body is not valid JSON."),
    (b"[" * 100_000, "application/json", 400, "The body is not valid JSON."),
    (b"\xff\xfe", "application/json", 400, "The body is not valid JSON."),
    (b'["ci"]', "application/json", 400, 'The body must be a JSON object, such as {"name": "ci", "expires": "30d"}.'),
    (b"name=ci", "text/plain", 415,
     "Send the options as JSON (application/json) or as a form (application/x-www-form-urlencoded)."),
    (b"name=\xff", "application/x-www-form-urlencoded", 400, "Form body is not UTF-8."),
])
def test_a_body_that_is_not_json_or_a_form_is_refused(site: Site, content: bytes, content_type: str, status: int,
                                                      detail: str) -> None:
    response = site.client.post("/tokens", content=content, headers={**password(), "Content-Type": content_type})
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert site.stored() == []


def test_the_per_user_limit_is_a_clear_400(make_site: Callable[..., Site]) -> None:
    site = make_site(max_per_user=1)
    site.key(name="one")
    response = site.create(name="two")
    assert response.status_code == 400
    assert response.json() == {"detail": "user 'alice' already has 1 active tokens, the limit (token.max_per_user); "
                                         "revoke one first."}
    assert [record.name for record in site.stored()] == ["one"]


@pytest.mark.parametrize(("section", "message"), [
    ({"create_schemes": ["token", "basic"]}, "token.create_schemes: 'token' cannot create tokens"),
    ({"max_lifetime": "soon"}, "token.max_lifetime: 'soon' is not a duration"),
])
def test_settings_that_cannot_work_stop_the_hub(make_hub: Callable[..., authhub.AuthHub], section: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(authhub.ConfigurationError, match=re.escape(message)):
        make_hub(token=section)


# -- GET /tokens ----------------------------------------------------------------------------


def test_a_caller_lists_its_own_live_tokens_and_never_a_key(site: Site) -> None:
    first = site.create(name="laptop", scopes=["read"]).json()
    second = site.key(name="ci")
    bobs = site.key(password("bob", OTHER_PASSWORD), name="bob's")
    gone = site.create(name="gone").json()
    authhub_token.revoke_token(site.hub, gone["id"])
    authhub_token.create_token(site.hub, "alice", name="expired", expires_in=dt.timedelta(microseconds=1))

    for headers in (password(), token(second)):
        response = site.client.get("/tokens", headers=headers)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        listed = response.json()
        assert [item["name"] for item in listed] == ["laptop", "ci"]
        assert all(set(item) == FIELDS for item in listed)
        assert listed[0] == {key: value for key, value in first.items() if key != "key"} | {
            "last_used_at": listed[0]["last_used_at"]}
        for secret in (first["key"], second, bobs):
            assert secret not in response.text
    used = site.client.get("/tokens", headers=token(second)).json()[1]
    assert used["last_used_at"] is not None  # the token just used


def test_listing_needs_credentials(site: Site) -> None:
    response = site.client.get("/tokens")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ["Token", "Password"]
    assert site.client.get("/tokens", headers=token("ahk_wrong")).status_code == 401


# -- DELETE /tokens/{id} --------------------------------------------------------------------


def test_revoking_one_of_ones_tokens_cuts_it_off_at_once(site: Site) -> None:
    listening(site.hub)
    body = site.create(name="ci").json()
    kept = site.key(name="kept")
    assert site.whoami(body["key"]).json()["authenticated"] is True  # now in the cache

    response = site.client.delete(f"/tokens/{body['id']}", headers=token(kept))
    assert response.status_code == 204
    assert response.content == b""

    refused = site.whoami(body["key"])
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Invalid token."}
    assert site.whoami(kept).status_code == 200
    assert [item["name"] for item in site.client.get("/tokens", headers=password()).json()] == ["kept"]


def test_someone_elses_token_is_not_found_and_keeps_working(site: Site) -> None:
    bobs = site.create(password("bob", OTHER_PASSWORD), name="bob's").json()
    gone = site.create(name="gone").json()
    authhub_token.revoke_token(site.hub, gone["id"])
    junk = ("abc", "1.0", "-1", "99999999999999999999", "\N{FULLWIDTH DIGIT ONE}")
    answers = [site.client.delete(f"/tokens/{token_id}", headers=password())
               for token_id in (bobs["id"], gone["id"], 999999, *junk)]
    # another user's token, a revoked one, unknown ids and junk all get the same answer
    assert {(answer.status_code, answer.text) for answer in answers} == {(404, '{"detail":"Not found."}')}
    assert site.whoami(bobs["key"]).json()["user"] == "bob"


def test_revoking_needs_credentials(site: Site) -> None:
    body = site.create(name="ci").json()
    response = site.client.delete(f"/tokens/{body['id']}")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ["Token", "Password"]
    assert site.whoami(body["key"]).status_code == 200


def test_other_methods_on_a_token_are_405(site: Site) -> None:
    body = site.create(name="ci").json()
    response = site.client.get(f"/tokens/{body['id']}", headers=password())
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE"


# -- POST /tokens/logout and /tokens/logout-all --------------------------------------------


def test_logout_revokes_the_token_in_use_and_no_other(site: Site) -> None:
    listening(site.hub)
    used, other = site.key(name="used"), site.key(name="other")
    assert site.whoami(used).status_code == 200

    response = site.client.post("/tokens/logout", headers=token(used))
    assert response.status_code == 204

    assert site.whoami(used).status_code == 401
    assert site.whoami(other).json()["user"] == "alice"


def test_logout_without_a_token_is_400(site: Site) -> None:
    site.key(name="ci")
    response = site.client.post("/tokens/logout", headers=password())
    assert response.status_code == 400
    assert response.json() == {"detail": "This request was not authenticated with a token: send the one to revoke "
                                         "as 'Authorization: Token <key>'."}
    assert [record.revoked for record in site.stored()] == [False]
    response = site.client.post("/tokens/logout")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ["Token", "Password"]


def test_logout_all_revokes_every_token_of_the_caller_only(site: Site) -> None:
    listening(site.hub)
    keys = [site.key(name=name) for name in ("a", "b", "c")]
    bobs = site.key(password("bob", OTHER_PASSWORD), name="bob's")
    assert all(site.whoami(key).status_code == 200 for key in keys)  # cached

    response = site.client.post("/tokens/logout-all", headers=token(keys[0]))
    assert response.status_code == 200
    assert response.json() == {"revoked": 3}

    assert [site.whoami(key).status_code for key in keys] == [401, 401, 401]
    assert site.whoami(bobs).status_code == 200
    assert site.client.post("/tokens/logout-all", headers=password()).json() == {"revoked": 0}


def test_a_revocation_reaches_another_hub_on_the_same_database(site: Site,
                                                               make_hub: Callable[..., authhub.AuthHub]) -> None:
    other = make_hub(schemes=["token"])  # the same SQLite file: another server of the same site
    listening(site.hub, other)
    body = site.create(name="ci").json()
    probe = authhub.Request("GET", "/whoami", token(body["key"]).items(), hub=other)
    assert other.authenticate(probe).is_authenticated  # cached there too

    assert site.client.delete(f"/tokens/{body['id']}", headers=password()).status_code == 204
    assert refused_within(other, f"Token {body['key']}").detail == "Invalid token."


# -- the whole, over the wire ---------------------------------------------------------------


def test_the_endpoints_through_the_reference_server(site: Site, authhub_live_server: Callable[..., str]) -> None:
    base = authhub_live_server(site.hub)
    with httpx.Client(base_url=base) as client:
        made = client.post("/tokens", json={"name": "wire", "expires": "1d"}, headers=password())
        assert made.status_code == 201
        key, token_id = made.json()["key"], made.json()["id"]
        assert [item["id"] for item in client.get("/tokens", headers=token(key)).json()] == [token_id]
        gone = client.delete(f"/tokens/{token_id}", headers=token(key))
        assert (gone.status_code, gone.content) == (204, b"")
        assert client.get("/tokens", headers=token(key)).status_code == 401


def test_with_an_applications_own_user_store(authhub_account_hub: Callable[..., authhub.AuthHub]) -> None:
    hub = authhub_account_hub(schemes=["token", "password"], plugins={"password": PasswordScheme()},
                              token={"create_schemes": ["password"]})
    hub.users.add("alice", PASSWORD)
    site = Site(hub)
    body = site.create(name="ci").json()
    assert [item["id"] for item in site.client.get("/tokens", headers=token(body["key"])).json()] == [body["id"]]
    assert site.client.delete(f"/tokens/{body['id']}", headers=password()).status_code == 204
    assert site.whoami(body["key"]).status_code == 401


def test_the_page_sends_a_visitor_without_a_session_to_the_login_page(site: Site) -> None:
    key = site.key(name="ci")
    for headers in ({}, password(), token(key)):
        response = site.client.get("/account/tokens", headers=headers)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/account/tokens"
        assert response.headers["cache-control"] == "no-store"


def test_a_dropped_hub_is_collected_after_serving_the_endpoints(tmp_path: Path) -> None:
    hub = hub_for_tests(tmp_path, schemes=["token", "password"], plugins={"password": PasswordScheme()},
                        token={"create_schemes": ["password"]})
    hub.upgrade()
    hub.users.create("alice", PASSWORD)
    site = Site(hub)
    listening(hub)
    key = site.key(name="ci")
    assert [site.whoami(key).status_code for _ in range(2)] == [200, 200]  # a read, then a cache hit
    assert scheme_of(hub).cache
    hub.close()
    dead = weakref.ref(hub)
    del hub, site
    gc.collect()
    assert dead() is None


@pytest.mark.postgres
def test_on_postgresql_an_id_out_of_the_columns_range_is_not_found(make_site: Callable[..., Site],
                                                                    authhub_postgres_url: str) -> None:
    site = make_site(database_url=authhub_postgres_url)
    body = site.create(name="ci").json()
    # 2**31 and more do not fit PostgreSQL's integer column: refused like any unknown id, not a 500
    for token_id in ("2147483648", "9223372036854775807", "abc"):
        response = site.client.delete(f"/tokens/{token_id}", headers=password())
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert site.client.delete(f"/tokens/{body['id']}", headers=password()).status_code == 204
    assert site.whoami(body["key"]).status_code == 401
