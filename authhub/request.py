"""The framework-neutral request, and its lazy ``user`` and ``auth``."""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from authhub.authorization import MAX_HEADER_SIZE, credentials
from authhub.errors import BadRequest

if TYPE_CHECKING:
    from authhub.hub import AuthHub
    from authhub.identity import Identity

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: ``request.state`` key of a list of ``(name, value)`` header lines that a
#: scheme wants on the response, whatever the application answers (a session
#: scheme clearing a stale cookie). The WSGI and ASGI middleware add them.
RESPONSE_HEADERS = "authhub.response_headers"

#: Header names as ASGI servers send them (``"Authorization"`` -> ``b"authorization"``), computed once.
_ASGI_NAMES: dict[str, bytes] = {}
#: Header names as WSGI environ keys (``"Authorization"`` -> ``"HTTP_AUTHORIZATION"``), computed once.
_WSGI_KEYS: dict[str, str] = {}
_WSGI_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})
_NAMES_KEPT = 256


class Headers(Mapping[str, str]):
    """Case-insensitive request headers that keep repeated ones.

    ``headers["authorization"]`` and ``headers.get(...)`` refuse a header
    that was sent more than once (:class:`authhub.BadRequest`) rather than
    quietly picking one; ``get_all`` returns every value.

    Two states: the source as the server gave it (a list of pairs, a WSGI
    environ, an ASGI scope's raw pairs), then an index built from it the
    first time the headers are listed. A request usually has one or two
    headers read (``Authorization``, ``Cookie``), and those are looked up
    in the source directly, without decoding the others.
    """

    __slots__ = ("_index", "_pairs", "_source", "_values")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._source: Any = list(items)
        self._values: Callable[[Any, str], list[str]] = _list_values
        self._pairs: Callable[[Any], list[tuple[str, str]]] = _list_pairs
        self._index: dict[str, list[str]] | None = None

    # from_wsgi and from_asgi run on every request: they fill the slots without
    # __init__, which would first copy an empty list.

    @classmethod
    def from_wsgi(cls, environ: Mapping[str, Any]) -> Headers:
        """Headers read from a WSGI environ when asked for (a framework's environ is large)."""
        headers = cls.__new__(cls)
        headers._source, headers._values, headers._pairs, headers._index = environ, _wsgi_values, _wsgi_pairs, None
        return headers

    @classmethod
    def from_asgi(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Headers from an ASGI scope's ``(name, value)`` byte pairs, decoded when asked for."""
        headers = cls.__new__(cls)
        headers._source, headers._values, headers._pairs, headers._index = raw, _asgi_values, _asgi_pairs, None
        return headers

    def _lookup(self) -> dict[str, list[str]]:
        if self._index is None:
            index: dict[str, list[str]] = {}
            for name, value in self._pairs(self._source):
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return self._index

    def get_all(self, name: str) -> list[str]:
        """Every value sent for the header ``name``, in order (``[]`` when there is none)."""
        if self._index is not None:
            return list(self._index.get(name.lower(), ()))
        return self._values(self._source, name)

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        if len(values) > 1:
            raise BadRequest(f"Header {name!r} was sent more than once.")
        return values[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_all(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def items_all(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair as sent, names lower-cased."""
        return [(name.lower(), value) for name, value in self._pairs(self._source)]

    def __repr__(self) -> str:
        # Never show values: they carry credentials.
        return f"Headers({sorted(self._lookup())!r})"


def _list_values(items: list[tuple[str, str]], name: str) -> list[str]:
    wanted = name.lower()
    found = []
    for key, value in items:  # a loop, not a comprehension: no frame of its own before Python 3.12
        if key == wanted or key.lower() == wanted:
            found.append(value)
    return found


def _list_pairs(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return items


def _asgi_pairs(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]


def _wsgi_pairs(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    items = [(key[5:].replace("_", "-").lower(), value) for key, value in environ.items() if key.startswith("HTTP_")]
    if environ.get("CONTENT_TYPE"):
        items.append(("content-type", environ["CONTENT_TYPE"]))
    if environ.get("CONTENT_LENGTH"):
        items.append(("content-length", environ["CONTENT_LENGTH"]))
    return items


def _asgi_values(raw: Iterable[tuple[bytes, bytes]], name: str) -> list[str]:
    # ASGI servers send names in lower case (the ASGI spec; Starlette relies on it too).
    wanted = _ASGI_NAMES.get(name)
    if wanted is None:
        try:
            wanted = name.lower().encode("latin-1")
        except UnicodeEncodeError:
            return []  # no header of the request can have this name
        if len(_ASGI_NAMES) < _NAMES_KEPT:
            _ASGI_NAMES[name] = wanted
    found = []
    for key, value in raw:
        if key == wanted:
            found.append(value.decode("latin-1"))
    return found


def _wsgi_values(environ: Mapping[str, Any], name: str) -> list[str]:
    # A WSGI server joins repeated headers into one value; "_" cannot be told
    # from "-" in an environ key, so a name with "_" is never found (as when listed).
    key = _WSGI_KEYS.get(name)
    if key is None:
        if "_" in name:
            return []
        key = name.upper().replace("-", "_")
        if key not in _WSGI_UNPREFIXED:
            key = "HTTP_" + key
        if len(_WSGI_KEYS) < _NAMES_KEPT:
            _WSGI_KEYS[name] = key
    value = environ.get(key)
    if value is None or (not value and key in _WSGI_UNPREFIXED):
        return []
    return [value]


class Request:
    """One HTTP request, as every scheme sees it whatever the framework.

    Build it with :meth:`from_wsgi`, :meth:`from_asgi` or directly. When it
    is bound to a hub, reading :attr:`user`, :attr:`auth` or
    :attr:`identity` runs the hub's chain once and keeps the answer.
    """

    __slots__ = (
        "_authorization",
        "_body",
        "_cookies",
        "_form",
        "_host",
        "_identity",
        "_read_body",
        "_server",
        "client",
        "environ",
        "headers",
        "hub",
        "method",
        "path",
        "query_string",
        "state",
        "url_scheme",
    )

    def __init__(
        self,
        method: str,
        path: str,
        headers: Headers | Iterable[tuple[str, str]] = (),
        *,
        query_string: str = "",
        client: str | None = None,
        url_scheme: str = "http",
        host: str | None = "localhost",
        body: bytes | None = None,
        read_body: Callable[[], bytes] | None = None,
        hub: AuthHub | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query_string = query_string
        # isinstance() against a Mapping subclass is slow when it fails: a list skips it.
        self.headers = Headers(headers) if type(headers) is list or not isinstance(headers, Headers) else headers
        self.client = client
        self.url_scheme = url_scheme
        self._host = host
        self._server: Any = None
        self.hub = hub
        self.environ = environ
        self._body = body
        self._read_body = read_body
        self._cookies: dict[str, str] | None = None
        self._identity: Identity | None = None
        # Every scheme of the chain reads Authorization: it is looked up once.
        self._authorization: list[str] | None = None
        self._form: dict[str, str] | None = None
        #: Free room for plugins and applications (a session found, ...).
        self.state: dict[str, Any] = {}

    # -- construction --------------------------------------------------------

    @classmethod
    def from_wsgi(cls, environ: Mapping[str, Any], hub: AuthHub | None = None) -> Request:
        headers = Headers.from_wsgi(environ)

        def read_body() -> bytes:
            body = _read_limited(environ, hub)
            if isinstance(environ, MutableMapping):
                # A scheme read the body (a CSRF form field): the application must still see it.
                environ["wsgi.input"] = io.BytesIO(body)
            return body

        trusted = hub.trusted_proxies if hub is not None else ()
        client, url_scheme = _forwarded(
            environ.get("REMOTE_ADDR"), environ.get("wsgi.url_scheme", "http"), headers, trusted
        )
        return cls(
            environ.get("REQUEST_METHOD", "GET"),
            _wsgi_path(environ),
            headers,
            query_string=environ.get("QUERY_STRING", ""),
            client=client,
            url_scheme=url_scheme,
            host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost"),
            read_body=read_body,
            hub=hub,
            environ=environ,
        )

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], hub: AuthHub | None = None, body: bytes | None = None) -> Request:
        # On every request of an ASGI application: set the slots directly (through
        # __init__'s keywords this costs 0.5 µs more; a test checks that every slot
        # is set) and leave the headers, and the Host taken from them, undecoded.
        request = cls.__new__(cls)
        request.method = scope.get("method", "GET")  # upper case already (the ASGI spec)
        request.path = scope.get("path", "/")
        request.query_string = scope.get("query_string", b"").decode("latin-1")
        request.headers = headers = Headers.from_asgi(scope["headers"])
        client_pair = scope.get("client")
        request.client = client_pair[0] if client_pair else None
        request.url_scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        if hub is not None and hub.trusted_proxies:
            request.client, request.url_scheme = _forwarded(
                request.client, request.url_scheme, headers, hub.trusted_proxies
            )
        request._host = None
        request._server = scope.get("server")
        request.hub = hub
        request.environ = None
        request._body = body
        request._read_body = None
        request._cookies = None
        request._identity = None
        request._authorization = None
        request._form = None
        request.state = {}
        return request

    # -- what schemes read ---------------------------------------------------

    @property
    def host(self) -> str:
        """The ``Host`` the client asked for (ASGI: the header, else the server's address)."""
        if self._host is None:
            values = self.headers.get_all("host")
            server = self._server
            self._host = values[0] if values else (f"{server[0]}:{server[1]}" if server else "localhost")
        return self._host

    @host.setter
    def host(self, host: str) -> None:
        self._host = host

    @property
    def is_secure(self) -> bool:
        return self.url_scheme == "https"

    @property
    def is_safe_method(self) -> bool:
        return self.method in SAFE_METHODS

    @property
    def origin(self) -> str:
        """This request's own origin, ``scheme://host``."""
        return f"{self.url_scheme}://{self.host}"

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header, ``None`` when absent; refused when repeated."""
        values = self._authorization
        if values is None:
            values = self._authorization = self.headers.get_all("authorization")
        if not values:
            return None
        if len(values) > 1:
            raise BadRequest("More than one Authorization header.")
        return values[0]

    def credentials(self, keyword: str, max_size: int = MAX_HEADER_SIZE) -> str | None:
        """The token after ``keyword`` in ``Authorization`` (see :func:`authhub.authorization.credentials`).

        ``None`` when the header is absent or names another scheme.

        :raises MalformedCredentials: a header of this scheme that cannot be read.
        :raises BadRequest: more than one ``Authorization`` header.
        """
        return credentials(self.authorization, keyword, max_size)

    def add_response_header(self, name: str, value: str) -> None:
        """Put a header line on whatever response this request gets (a stale cookie cleared).

        The WSGI and ASGI middleware and the framework adapters add these
        lines to the application's own response.
        """
        self.response_headers.append((name, value))

    @property
    def response_headers(self) -> list[tuple[str, str]]:
        """The lines :meth:`add_response_header` queued, in order; a scheme may edit the list."""
        pending: list[tuple[str, str]] = self.state.setdefault(RESPONSE_HEADERS, [])
        return pending

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            cookies: dict[str, str] = {}
            for header in self.headers.get_all("cookie"):
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(header)
                except Exception:  # noqa: S112 - a malformed Cookie header carries no usable cookie
                    continue
                for name, morsel in jar.items():
                    cookies.setdefault(name, morsel.value)
            self._cookies = cookies
        return self._cookies

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    def body(self) -> bytes:
        """The request body, read once (bounded by ``max_body_size``)."""
        if self._body is None:
            self._body = self._read_body() if self._read_body is not None else b""
        return self._body

    def form(self) -> dict[str, str]:
        """The fields of an ``application/x-www-form-urlencoded`` body (else empty)."""
        if self._form is None:
            content_type = self.headers.get_all("content-type")
            form: dict[str, str] = {}
            if content_type and content_type[0].split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
                try:
                    text = self.body().decode("utf-8")
                except UnicodeDecodeError:
                    raise BadRequest("Form body is not UTF-8.") from None
                form = dict(parse_qsl(text, keep_blank_values=True))
            self._form = form
        return self._form

    # -- who sent it ---------------------------------------------------------

    @property
    def identity(self) -> Identity:
        """Run the hub's chain on first access and keep the answer."""
        identity = self._identity
        if identity is None:
            hub = self.hub
            if hub is None:
                raise RuntimeError("This request is not bound to an AuthHub.")
            identity = self._identity = hub.authenticate(self)
        return identity

    @identity.setter
    def identity(self, identity: Identity) -> None:
        self._identity = identity

    @property
    def has_identity(self) -> bool:
        """Whether the chain already ran for this request."""
        return self._identity is not None

    @property
    def user(self) -> Any:
        return self.identity.user

    @property
    def auth(self) -> Any:
        return self.identity.auth

    @property
    def auth_scheme(self) -> str | None:
        """The name of the scheme that answered, ``None`` when anonymous."""
        return self.identity.scheme

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


def _wsgi_path(environ: Mapping[str, Any]) -> str:
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # PEP 3333 hands the path over as latin-1; restore the UTF-8 the client sent.
    try:
        return path.encode("latin-1").decode("utf-8") or "/"
    except (UnicodeEncodeError, UnicodeDecodeError):
        return path or "/"


def _read_limited(environ: Mapping[str, Any], hub: AuthHub | None) -> bytes:
    limit = hub.settings["max_body_size"] if hub is not None else 1_048_576
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("Invalid Content-Length.") from None
    if length < 0:
        raise BadRequest("Invalid Content-Length.")
    if length > limit:
        raise BadRequest(f"Request body larger than {limit} bytes.", status_code=413)
    if length == 0:
        return b""
    body: bytes = environ["wsgi.input"].read(length)
    return body


def _forwarded(peer: str | None, url_scheme: str, headers: Headers, trusted: Iterable[Any]) -> tuple[str | None, str]:
    """Believe ``X-Forwarded-For`` / ``X-Forwarded-Proto`` only from a trusted proxy."""
    if peer is None or not trusted or not _is_trusted(peer, trusted):
        return peer, url_scheme
    proto = headers.get_all("x-forwarded-proto")
    if proto:
        url_scheme = "https" if proto[-1].split(",")[-1].strip().lower() == "https" else "http"
    hops = [hop.strip() for value in headers.get_all("x-forwarded-for") for hop in value.split(",")]
    # Walk from the nearest hop back, skipping our own proxies: the first
    # untrusted address is the client.
    client = peer
    for hop in reversed(hops):
        if not hop:
            continue
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client, url_scheme


def _is_trusted(address: str, trusted: Iterable[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
