"""A token issuer on a loopback port for the resource server's discovery tests: metadata, JWKS, counts.

It serves the documents a real authorization server publishes (an OpenID
Connect discovery document and/or RFC 8414 metadata, and a JWKS at the
``jwks_uri`` they name), counts every request by path, can answer slowly,
and can be stopped to play an unreachable issuer.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import Key, KeySet


class LocalIssuer:
    """Serves ``documents`` (path -> JSON) on 127.0.0.1; ``issuer`` is ``http://127.0.0.1:<port><path>``."""

    def __init__(self, path: str = "") -> None:
        self.documents: dict[str, Any] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.delay = 0.0
        self._lock = threading.Lock()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    issuer.hits[self.path] += 1
                    document = issuer.documents.get(self.path)
                    delay = issuer.delay
                if delay:
                    time.sleep(delay)
                if document is None:
                    self.send_error(404)
                    return
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.origin + path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, path: str, document: Any) -> None:
        with self._lock:
            self.documents[path] = document

    def publish_keys(self, path: str, keys: list[Key]) -> None:
        self.publish(path, KeySet(keys).as_dict(private=False))

    def count(self, path: str) -> int:
        with self._lock:
            return self.hits[path]

    def stop(self) -> None:
        """Close the port: from now on the issuer is unreachable (connection refused)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def sign(key: Key, issuer: str, audience: str, *, alg: str = "RS256", kid: str | None = None,
         **claims: Any) -> str:
    """A JWT access token (RFC 9068) of ``issuer`` for ``audience``, as such an issuer signs one."""
    now = int(time.time())
    values = {"iss": issuer, "aud": audience, "sub": "alice", "client_id": "mobile-app", "iat": now,
              "exp": now + 300, "jti": f"jti-{time.monotonic_ns()}", "scope": "read"}
    values.update(claims)
    header = {"alg": alg, "typ": "at+jwt", "kid": kid if kid is not None else key.kid}
    return jwt.encode(header, {name: value for name, value in values.items() if value is not None}, key,
                      algorithms=[alg])
