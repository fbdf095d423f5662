"""Flask-HTTPAuth's ``HTTPTokenAuth`` on a Flask view, against the same view without it.

``verify_token`` finds the key in a dict, as authhub's tiny scheme does,
so the difference is the extension's own cost. authhub's Flask extension
(``authhub.contrib.flask``) runs on the same app for comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cases_authhub import TINY_TOKENS, TINY_USER, tiny_hub, wsgi_environ
from harness import Case

GROUP = "anchor"


def _app(run_dir: Path) -> Any:
    import flask
    from flask_httpauth import HTTPTokenAuth

    from authhub.contrib.flask import FlaskAuth, current_user
    from authhub.contrib.flask import login_required as authhub_login_required

    app = flask.Flask("bench")
    auth = HTTPTokenAuth(scheme="Token")
    FlaskAuth(app, hub=tiny_hub(1, run_dir))

    @auth.verify_token
    def verify_token(key: str) -> Any:
        return TINY_TOKENS.get(key)

    @app.route("/bare")
    def bare() -> str:
        return "ok"

    @app.route("/httpauth")
    @auth.login_required
    def httpauth() -> str:
        assert auth.current_user() is TINY_USER
        return "ok"

    @app.route("/authhub")
    @authhub_login_required
    def with_authhub() -> str:
        assert current_user.username == TINY_USER.username
        return "ok"

    return app


def _calls(app: Any, path: str) -> Any:
    base = wsgi_environ()
    base["PATH_INFO"] = path

    def call() -> Any:
        return b"".join(app(dict(base), lambda status, headers, *exc: None))

    assert call() == b"ok", path
    return call


def middleware(run_dir: Path) -> list[Case]:
    app = _app(run_dir)
    return [
        Case("Flask view, bare", GROUP, _calls(app, "/bare")),
        Case("Flask view + Flask-HTTPAuth HTTPTokenAuth", GROUP, _calls(app, "/httpauth"), note="dict verify_token"),
        Case("Flask view + authhub FlaskAuth login_required", "authhub", _calls(app, "/authhub"),
             note="tiny dict scheme"),
    ]
