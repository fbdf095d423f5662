"""The access log of ``authhub serve``: one line per request.

Each line holds the time the request arrived, the client address, the
method, the path, the status, the duration, the scheme that answered (or
refused) and the user name. Never a credential: no header is logged, and
the path is logged without its query string, which can carry secrets
(``?access_token=``, ``?code=``). Lines go to the ``authhub.access``
logger, plain (``plain``) or as JSON objects, one a line (``json``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal
from urllib.parse import quote

import attrs

from authhub.request import Request

AccessLogFormat = Literal["plain", "json", "off"]
FORMATS: tuple[AccessLogFormat, ...] = ("plain", "json", "off")

#: Where the reference server's router leaves the scheme that refused a request.
REFUSED_BY = "authhub.access.refused_by"

access_log = logging.getLogger("authhub.access")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Characters a path keeps as they are; anything else (spaces, quotes, control
# characters, a literal %) is percent-encoded, so one request is always one line.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
#: A field written as it is: no space, quote or backslash (anything else is JSON-quoted).
_BARE = re.compile(r'[^\s"\\]+')


@attrs.frozen
class AccessRecord:
    """What the access log says about one request."""

    time: dt.datetime
    client: str | None
    method: str
    path: str
    status: int
    duration_ms: float
    scheme: str | None
    user: str | None

    def as_json(self) -> str:
        return json.dumps({
            "time": _timestamp(self.time),
            "client": self.client,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "scheme": self.scheme,
            "user": self.user,
        }, ensure_ascii=False)

    def as_plain(self) -> str:
        return (f"{_timestamp(self.time)} {_field(self.client)} {_field(self.method)} {self.path} {self.status} "
                f"{self.duration_ms:.1f}ms scheme={_field(self.scheme)} user={_field(self.user)}")


def _timestamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _field(value: str | None) -> str:
    """``-`` for nothing; a value with spaces, quotes or control characters JSON-quoted, so it stays one field."""
    if value is None:
        return "-"
    if _BARE.fullmatch(value) and value.isprintable():
        return value
    return json.dumps(value)


class AccessLog:
    """WSGI middleware writing one :class:`AccessRecord` per request to the ``authhub.access`` logger.

    Wrap it around :class:`authhub.wsgi.AuthMiddleware`: it reads the
    identity the middleware's request has settled on, and never runs the
    chain itself.
    """

    def __init__(self, app: WSGIApp, format: AccessLogFormat = "plain") -> None:
        if format not in ("plain", "json"):
            raise ValueError(f"access log format must be 'plain' or 'json', not {format!r}")
        self.app = app
        self.format = format

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        arrived = dt.datetime.now(dt.timezone.utc)
        started = time.perf_counter()
        status: list[int] = []

        def recording_start(status_line: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            status[:] = [_status_code(status_line)]
            return start_response(status_line, headers, *exc_info)

        def finished() -> None:
            self._write(environ, arrived, status[0] if status else 500, time.perf_counter() - started)

        try:
            body = self.app(environ, recording_start)
        except BaseException:
            finished()
            raise
        return _LoggedBody(body, finished)

    def _write(self, environ: dict[str, Any], arrived: dt.datetime, status: int, seconds: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):  # turned off: build no line nobody will read
            return
        request = environ.get("authhub.request")
        scheme = user = None
        if isinstance(request, Request):
            if request.has_identity:
                identity = request.identity
                scheme = identity.scheme
                if identity.is_authenticated:
                    name = getattr(identity.user, "username", None)
                    user = str(name) if name is not None else None
            else:
                scheme = request.state.get(REFUSED_BY)
        path = environ.get("PATH_INFO", "") or "/"
        record = AccessRecord(
            time=arrived,
            client=environ.get("REMOTE_ADDR"),
            method=str(environ.get("REQUEST_METHOD", "-")),
            path=quote(environ.get("SCRIPT_NAME", "") + path, safe=_PATH_SAFE, encoding="latin-1",
                       errors="backslashreplace"),
            status=status,
            duration_ms=seconds * 1000,
            scheme=scheme,
            user=user,
        )
        access_log.info(record.as_json() if self.format == "json" else record.as_plain())


def _status_code(status_line: str) -> int:
    try:
        return int(status_line.split(" ", 1)[0])
    except ValueError:
        return 500


class _LoggedBody:
    """The application's body, logging the request once the server has sent it and closed it (PEP 3333)."""

    def __init__(self, body: Iterable[bytes], finished: Callable[[], None]) -> None:
        self.body = body
        self.finished = finished

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.finished()


def configure(format: AccessLogFormat, stream: Any = None) -> None:
    """Send the ``authhub.access`` lines to ``stream`` (stderr by default), or nowhere for ``off``."""
    for handler in list(access_log.handlers):
        access_log.removeHandler(handler)
    access_log.propagate = False
    if format == "off":
        access_log.setLevel(logging.CRITICAL + 1)
        return
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
