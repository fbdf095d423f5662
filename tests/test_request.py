"""The framework-neutral request."""

from __future__ import annotations

import io

import pytest

import authhub
from authhub import AuthHub, Headers, Request

FORM = b"csrf_token=t&x=%C3%A9"


def wsgi_environ(**extra: object) -> dict[str, object]:
    environ: dict[str, object] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/caf\xc3\xa9",  # UTF-8 bytes as latin-1, as PEP 3333 hands them over
        "QUERY_STRING": "a=1&b=",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "10.0.0.5",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "api.example",
        "HTTP_AUTHORIZATION": "Token abc",
        "HTTP_COOKIE": "sid=xyz; theme=dark",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(FORM)),
        "wsgi.input": io.BytesIO(FORM),
    }
    environ.update(extra)
    return environ


def test_headers_are_case_insensitive_and_keep_repeats():
    headers = Headers([("Authorization", "Token a"), ("X-Thing", "1"), ("x-thing", "2")])
    assert headers["AUTHORIZATION"] == "Token a"
    assert headers.get("authorization") == "Token a"
    assert "x-THING" in headers
    assert headers.get_all("X-Thing") == ["1", "2"]
    with pytest.raises(authhub.BadRequest, match="more than once"):
        headers["x-thing"]


def test_two_authorization_headers_are_refused():
    request = Request("GET", "/", [("Authorization", "Basic a"), ("Authorization", "Token b")])
    with pytest.raises(authhub.BadRequest):
        request.authorization


def test_headers_repr_never_shows_values():
    headers = Headers([("Authorization", "Token secret-value")])
    assert "secret-value" not in repr(headers)
    assert "secret-value" not in repr(Request("GET", "/", headers))


def test_from_wsgi():
    request = Request.from_wsgi(wsgi_environ())
    assert request.method == "POST"
    assert request.path == "/café"
    assert request.query == {"a": "1", "b": ""}
    assert request.authorization == "Token abc"
    assert request.cookies == {"sid": "xyz", "theme": "dark"}
    assert request.client == "10.0.0.5"
    assert request.is_secure is False
    assert request.origin == "http://api.example"
    assert request.form() == {"csrf_token": "t", "x": "é"}
    assert request.is_safe_method is False


def test_from_asgi_sets_every_slot_that_init_sets():
    # from_asgi fills the slots itself, for speed: a slot it forgets would
    # raise AttributeError only on ASGI requests.
    direct = Request("GET", "/")
    built = Request.from_asgi({"type": "http", "headers": []})
    for name in Request.__slots__:
        assert hasattr(direct, name), name
        assert hasattr(built, name), name


def test_from_asgi_keeps_repeated_headers():
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "query_string": b"q=1",
        "scheme": "https",
        "headers": [(b"authorization", b"Token a"), (b"authorization", b"Token b"), (b"host", b"h.example")],
        "client": ("192.0.2.1", 5000),
        "server": ("h.example", 443),
    }
    request = Request.from_asgi(scope)
    assert request.headers.get_all("authorization") == ["Token a", "Token b"]
    assert request.is_secure is True
    assert request.client == "192.0.2.1"
    assert request.host == "h.example"
    with pytest.raises(authhub.BadRequest):
        request.authorization


def test_asgi_headers_read_one_name_or_all_of_them_alike():
    raw = [(b"host", b"h.example"), (b"x-caf\xe9", b"\xe9t\xe9"), (b"accept", b"a"), (b"accept", b"b")]
    request = Request.from_asgi({"type": "http", "headers": raw})
    # Before anything is decoded, a single name is looked up in the raw pairs...
    assert request.headers.get_all("Accept") == ["a", "b"]
    assert request.headers.get_all("x-café") == ["été"]
    assert request.headers.get_all("x-\u0436") == []  # a name no header can have
    assert request.headers.get_all("authorization") == []
    assert request.authorization is None
    # ... and the same answers come from the decoded index.
    assert dict.fromkeys(request.headers) == dict.fromkeys(["host", "x-café", "accept"])
    assert request.headers.get_all("Accept") == ["a", "b"]
    assert request.headers.get_all("x-café") == ["été"]
    with pytest.raises(authhub.BadRequest):
        request.headers["accept"]


SOURCES = {
    "items": lambda: Headers([("X-Foo", "1"), ("Content-Type", "text/plain"), ("x-foo", "2"), ("X-Empty", "")]),
    "wsgi": lambda: Headers.from_wsgi({"HTTP_X_FOO": "1,2", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "",
                                       "HTTP_X_EMPTY": "", "REQUEST_METHOD": "GET", "wsgi.input": None}),
    "asgi": lambda: Headers.from_asgi([(b"x-foo", b"1"), (b"content-type", b"text/plain"), (b"x-foo", b"2"),
                                       (b"x-empty", b"")]),
}
NAMES = ["x-foo", "X-FOO", "content-type", "Content-Length", "x-empty", "x_foo", "authorization", "\u0436"]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_one_header_looked_up_before_listing_matches_the_listed_headers(source):
    looked_up = SOURCES[source]()
    before = {name: looked_up.get_all(name) for name in NAMES}
    contains_before = {name: name in looked_up for name in NAMES}
    listed = SOURCES[source]()
    assert "content-length" not in set(listed)  # an empty CONTENT_LENGTH is no header
    assert before == {name: listed.get_all(name) for name in NAMES}
    assert contains_before == {name: name in listed for name in NAMES}
    assert before["content-type"] == ["text/plain"] and before["x-empty"] == [""]
    assert before["x_foo"] == [] and before["Content-Length"] == []
    assert before["x-foo"] == (["1,2"] if source == "wsgi" else ["1", "2"])
    assert listed.items_all()[0][0] == "x-foo"  # names come out lower-cased


def test_asgi_host_comes_from_the_host_header_else_the_server():
    with_header = Request.from_asgi({"type": "http", "headers": [(b"host", b"h.example:8443")],
                                     "server": ("10.0.0.1", 8000)})
    assert with_header.host == "h.example:8443"
    assert with_header.origin == "http://h.example:8443"
    without = Request.from_asgi({"type": "http", "headers": [], "server": ("10.0.0.1", 8000)})
    assert without.host == "10.0.0.1:8000"
    assert Request.from_asgi({"type": "http", "headers": []}).host == "localhost"
    without.host = "set.example"
    assert without.host == "set.example"


def test_asgi_forwarded_headers_only_from_trusted_proxies(tmp_path):
    scope = {"type": "http", "scheme": "http", "client": ("10.0.0.5", 4000),
             "headers": [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"203.0.113.9, 10.0.0.6")]}
    untrusted = AuthHub(directory=tmp_path, environ={}, load_entry_points=False)
    request = Request.from_asgi(scope, untrusted)
    assert (request.client, request.is_secure) == ("10.0.0.5", False)
    trusted = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, trusted_proxies=["10.0.0.0/24"])
    request = Request.from_asgi(scope, trusted)
    assert (request.client, request.is_secure) == ("203.0.113.9", True)


def test_forwarded_headers_only_from_trusted_proxies(tmp_path):
    environ = wsgi_environ(HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.6")
    untrusted = AuthHub(directory=tmp_path, environ={}, load_entry_points=False)
    request = Request.from_wsgi(environ, untrusted)
    assert request.is_secure is False
    assert request.client == "10.0.0.5"

    trusted = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, trusted_proxies=["10.0.0.0/24"])
    request = Request.from_wsgi(environ, trusted)
    assert request.is_secure is True
    assert request.client == "203.0.113.9"


def test_body_is_bounded(tmp_path):
    hub = AuthHub(directory=tmp_path, environ={}, load_entry_points=False, max_body_size=10)
    request = Request.from_wsgi(wsgi_environ(), hub)
    with pytest.raises(authhub.BadRequest) as info:
        request.body()
    assert info.value.status_code == 413


def test_form_body_that_is_not_utf8_is_a_bad_request():
    request = Request("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")], body=b"a=%ff")
    assert request.form() == {"a": "\ufffd"}  # percent-decoding replaces; raw bytes are refused:
    raw = Request("POST", "/", [("Content-Type", "application/x-www-form-urlencoded")], body=b"a=\xff")
    with pytest.raises(authhub.BadRequest):
        raw.form()


def test_malformed_cookie_header_gives_no_cookies():
    assert Request("GET", "/", [("Cookie", 'a="unterminated')]).cookies == {}


def test_unbound_request_cannot_authenticate():
    with pytest.raises(RuntimeError, match="not bound"):
        Request("GET", "/").user
