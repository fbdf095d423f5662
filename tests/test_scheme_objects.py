"""Per-hub scheme objects (``create_scheme``): owned by one hub, closed with it, collected after it.

Also what goes through pluggy because of them: tracing and hook wrappers
see every ``authenticate`` call, ``invalidate`` reaches every plugin.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import authhub
from authhub import AuthHub, Request
from authhub.cli import cli
from authhub.testing import FAST_HASHING

from .conftest import header_scheme
from .distributions import GOOD_SCHEME, install, unique


def make(tmp_path: Path, plugins: dict[str, Any], **settings: Any) -> AuthHub:
    options: dict[str, Any] = {"environ": {}, "load_entry_points": False, **FAST_HASHING, **settings}
    options.setdefault("database_url", f"sqlite:///{tmp_path / 'objects.db'}")
    return AuthHub(directory=tmp_path, plugins=plugins, **options)


class KeyScheme(authhub.Scheme):
    """``X-Key: <key>`` against the keys in its settings; keeps what it was asked, and whether it is closed."""

    position = 150

    def __init__(self, hub: AuthHub, name: str, settings: Any) -> None:
        super().__init__(hub, name, settings)
        self.keys = dict(entry.split("=", 1) for entry in settings["keys"])
        self.seen: list[str] = []
        self.closed = False

    @authhub.hookimpl
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        key = request.headers.get("x-key")
        if key is None:
            return None
        self.seen.append(key)
        if key not in self.keys:
            raise authhub.AuthenticationFailed("Unknown key.")
        return authhub.User(f"{self.name}:{self.keys[key]}", self.keys[key]), None

    @authhub.hookimpl
    def challenge(self) -> str:
        return f'Key realm="{self.name}"'

    @authhub.hookimpl
    def auth_headers(self, user: Any) -> dict[str, str] | None:
        key = next((key for key, name in self.keys.items() if name == user.username), None)
        return None if key is None else {"X-Key": key}

    @authhub.hookimpl
    def serve_routes(self) -> list[authhub.Route]:
        return [authhub.Route(f"/{self.name}/keys", lambda request: authhub.Response.json(sorted(self.keys.values())))]

    def openapi(self) -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "X-Key", "description": f"{self.name} keys"}

    def close(self) -> None:
        self.closed = True


class KeyPlugin:
    """The plugin (usually a module): declared settings and the factory of :class:`KeyScheme`."""

    @authhub.hookimpl
    def scheme_settings(self) -> dict[str, authhub.Setting]:
        return {"keys": authhub.Setting([], kind=list, help="key=username pairs")}

    @authhub.hookimpl
    def create_scheme(self, hub: AuthHub, name: str, settings: Any) -> KeyScheme:
        return KeyScheme(hub, name, settings)


def key_request(key: str | None = None) -> Request:
    return Request("GET", "/", [] if key is None else [("X-Key", key)])


# -- one object per hub ----------------------------------------------------------


def test_each_hub_gets_its_own_object_in_its_own_plugin_manager(tmp_path):
    plugin = KeyPlugin()
    first = make(tmp_path, {"key": plugin}, key={"keys": ["k1=alice"]})
    second = make(tmp_path, {"key": plugin}, key={"keys": ["k2=bob"]})
    one, two = first.scheme_object("key"), second.scheme_object("key")
    assert isinstance(one, KeyScheme) and isinstance(two, KeyScheme)
    assert one is not two
    assert (one.hub, one.name, two.hub) == (first, "key", second)
    assert first.find_scheme(KeyScheme) is one and second.find_scheme(KeyScheme) is two

    assert first.pm.is_registered(one) and not first.pm.is_registered(two)
    assert second.pm.is_registered(two) and not second.pm.is_registered(one)

    # Each hub's chain calls its own object with its own settings.
    assert first.authenticate(key_request("k1")).user.username == "alice"
    with pytest.raises(authhub.AuthenticationFailed):
        second.authenticate(key_request("k1"))
    assert second.authenticate(key_request("k2")).user.username == "bob"
    assert (one.seen, two.seen) == (["k1"], ["k1", "k2"])


def test_a_plugin_without_an_object_has_none(tmp_path, schemes):
    hub = make(tmp_path, schemes)
    assert hub.scheme_object("alpha") is None
    assert hub.openapi("alpha") is None
    with pytest.raises(authhub.ConfigurationError, match="no KeyScheme in this hub"):
        hub.find_scheme(KeyScheme)


def test_the_object_answers_the_hubs_per_scheme_calls(tmp_path):
    hub = make(tmp_path, {"key": KeyPlugin()}, key={"keys": ["k1=alice"]})
    assert hub.schemes == ("key",)
    assert hub.challenges(key_request(), None) == ['Key realm="key"']
    assert hub.auth_headers("key", authhub.User(1, "alice")) == {"X-Key": "k1"}
    assert hub.auth_headers("key", authhub.User(2, "nobody")) is None
    assert [(name, route.path) for name, route in hub.routes()] == [("key", "/key/keys")]
    assert hub.openapi("key") == {"type": "apiKey", "in": "header", "name": "X-Key", "description": "key keys"}
    info = next(info for info in hub.plugins if info.name == "key")
    assert info.hooks == ("auth_headers", "authenticate", "challenge", "create_scheme", "scheme_settings",
                          "serve_routes")


def test_close_closes_every_object_even_when_one_fails(tmp_path, caplog):
    class Broken(KeyScheme):
        def close(self) -> None:
            raise RuntimeError("cannot close")

    class BrokenPlugin(KeyPlugin):
        @authhub.hookimpl
        def create_scheme(self, hub: AuthHub, name: str, settings: Any) -> KeyScheme:
            return Broken(hub, name, settings)

    hub = make(tmp_path, {"broken": BrokenPlugin(), "key": KeyPlugin()})
    key = hub.scheme_object("key")
    assert isinstance(key, KeyScheme) and not key.closed
    with caplog.at_level(logging.ERROR):
        hub.close()
    assert key.closed
    assert "plugin 'broken' failed to close" in caplog.text


# -- a dropped hub is collected -----------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    return directory


OBJECT_SCHEME = """
import authhub


class HelloScheme(authhub.Scheme):
    def __init__(self, hub, name, settings):
        super().__init__(hub, name, settings)
        self.answered = {{}}  # per-hub state, as a cache would be

    @authhub.hookimpl
    def authenticate(self, request):
        if request.headers.get_all("x-{name}") == ["let-me-in"]:
            user = self.answered.setdefault("user", authhub.User(7, "{name}-user"))
            return user, self
        return None


@authhub.hookimpl
def create_scheme(hub, name, settings):
    return HelloScheme(hub, name, settings)
"""


@pytest.mark.parametrize("shape", ["module-level", "object"])
@pytest.mark.parametrize("closed", [True, False], ids=["closed", "dropped"])
def test_a_dropped_hub_is_garbage_collected(tmp_path, site, shape, closed):
    module = unique(f"collected_{shape.replace('-', '_')}")
    source = GOOD_SCHEME if shape == "module-level" else OBJECT_SCHEME
    install(site, f"authhub-{module}", "1.0", {"hello": module}, {module: source.format(name="hello")})

    def use_a_hub() -> tuple[weakref.ref[AuthHub], list[weakref.ref[Any]]]:
        # The bundled schemes have GC tests of their own: here only the core and the plugin under test count.
        hub = AuthHub(directory=tmp_path, environ={"AUTHHUB_BLOCK_PLUGINS": "basic,oauth,session,token"},
                      schemes=["hello"],
                      database_url=f"sqlite:///{tmp_path / 'gc.db'}", **FAST_HASHING)
        hub.upgrade()
        request = Request("GET", "/", [("X-Hello", "let-me-in")], hub=hub)
        assert request.user.username == "hello-user"
        assert asyncio.run(hub.aauthenticate(Request("GET", "/", [("X-Hello", "let-me-in")]))).scheme == "hello"
        objects = [weakref.ref(hub.scheme_object("hello"))] if shape == "object" else []
        assert bool(objects) == (shape == "object")
        if closed:
            hub.close()
        return weakref.ref(hub), objects

    hub_ref, object_refs = use_a_hub()
    gc.collect()
    assert hub_ref() is None, gc.get_referrers(hub_ref())
    assert all(ref() is None for ref in object_refs)


def test_a_hub_that_announced_a_change_is_collected_after_close(tmp_path):
    def use_a_hub() -> weakref.ref[AuthHub]:
        hub = make(tmp_path, {"key": KeyPlugin()}, key={"keys": ["k1=alice"]})
        hub.upgrade()
        hub.authenticate(key_request("k1"))
        hub.invalidate("user", "1")
        hub.close()
        return weakref.ref(hub)

    hub_ref = use_a_hub()
    gc.collect()
    assert hub_ref() is None


# -- a failing create_scheme ------------------------------------------------------------


FAILING_SCHEME = """
import authhub


@authhub.hookimpl
def authenticate(request):
    return None


@authhub.hookimpl
def create_scheme(hub, name, settings):
    raise {error}
"""


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("authhub.ConfigurationError('secret_key must be set')", "plugin 'fragile': secret_key must be set"),
        ("RuntimeError('no connection')", "plugin 'fragile': RuntimeError: no connection"),
    ],
)
def test_a_failing_create_scheme_stops_the_hub_naming_the_plugin(tmp_path, site, error, message):
    module = unique("fragile")
    install(site, "authhub-fragile", "0.1", {"fragile": module}, {module: FAILING_SCHEME.format(error=error)})
    with pytest.raises(authhub.ConfigurationError) as info:
        AuthHub(directory=tmp_path, environ={})
    assert str(info.value) == message

    # Tools reporting on a broken installation see it as a plugin in error.
    hub = AuthHub(directory=tmp_path, environ={}, check_chain=False)
    fragile = next(info for info in hub.plugins if info.name == "fragile")
    assert (fragile.status, fragile.error) == ("error", message.removeprefix("plugin 'fragile': "))
    assert "fragile" not in hub.schemes


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``authhub`` commands run in-process in a fresh directory with their own database."""
    monkeypatch.chdir(tmp_path)
    for key in [key for key in os.environ if key.startswith("AUTHHUB_")]:
        monkeypatch.delenv(key)
    values = {"AUTHHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    values.update({f"AUTHHUB_{key.upper()}": str(value) for key, value in FAST_HASHING.items()})
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_plugins_command_shows_a_failing_create_scheme_as_an_error(site, cli_env):
    module = unique("fragile")
    error = "RuntimeError('no connection')"
    install(site, "authhub-fragile", "0.1", {"fragile": module}, {module: FAILING_SCHEME.format(error=error)})
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    row = next(row for row in json.loads(result.stdout) if row["name"] == "fragile")
    assert row["status"] == "error"
    assert row["error"] == "RuntimeError: no connection"
    assert row["position"] is None


# -- pluggy sees every authenticate call ---------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_trace_switch_shows_the_authenticate_call(tmp_path, capfd, mode):
    plugins = {"key": KeyPlugin(), "alpha": header_scheme("x-alpha", {"a-secret": "alice"})}
    hub = make(tmp_path, plugins, environ={"AUTHHUB_TRACE_HOOKS": "1"}, key={"keys": ["k1=kim"]},
               schemes=["alpha", "key"])
    capfd.readouterr()
    request = key_request("k1")
    identity = hub.authenticate(request) if mode == "sync" else asyncio.run(hub.aauthenticate(request))
    assert identity.user.username == "kim"
    trace = capfd.readouterr().err
    # One call per scheme tried: alpha (no credentials of its kind), then key (answers).
    assert trace.count("authhub:   authenticate [hook]") == 2, trace
    assert "authhub:   finish authenticate --> [] [hook]" in trace
    assert "authhub:   finish authenticate --> [(User(id='key:kim'" in trace

    quiet = make(tmp_path, plugins, key={"keys": ["k1=kim"]}, schemes=["alpha", "key"])
    capfd.readouterr()
    assert quiet.authenticate(key_request("k1")).user.username == "kim"
    assert "[hook]" not in capfd.readouterr().err


class Watcher:
    """A plugin wrapping ``authenticate``: sees every scheme's call, its answer or its error."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @authhub.hookimpl(wrapper=True)
    def authenticate(self, request: Request) -> Iterator[None]:
        try:
            answers = yield  # the one scheme's answer, as a list (authenticate is not firstresult)
        except authhub.AuthhubError as error:
            self.calls.append((request.path, f"raised {type(error).__name__}"))
            raise
        self.calls.append((request.path, f"answered {answers[0][0].username}" if answers else "none"))
        return answers


class OldStyleWatcher:
    def __init__(self) -> None:
        self.calls = 0

    @authhub.hookimpl(hookwrapper=True)
    def authenticate(self) -> Iterator[None]:
        yield
        self.calls += 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_hook_wrapper_sees_every_scheme_call(tmp_path, schemes, mode):
    watcher, old_style = Watcher(), OldStyleWatcher()
    plugins = {**schemes, "key": KeyPlugin(), "watcher": watcher, "old": old_style}
    hub = make(tmp_path, plugins, key={"keys": ["k1=kim"]}, schemes=["alpha", "key", "beta"])

    def run(path: str, **headers: str) -> authhub.Identity:
        request = Request("GET", path, list(headers.items()))
        return hub.authenticate(request) if mode == "sync" else asyncio.run(hub.aauthenticate(request))

    assert run("/a", **{"X-Alpha": "a-secret"}).scheme == "alpha"
    assert run("/k", **{"X-Key": "k1"}).scheme == "key"
    assert run("/anonymous").scheme is None
    with pytest.raises(authhub.AuthenticationFailed):
        run("/wrong", **{"X-Key": "nope"})
    assert watcher.calls == [
        ("/a", "answered alice"),
        ("/k", "none"), ("/k", "answered kim"),
        ("/anonymous", "none"), ("/anonymous", "none"), ("/anonymous", "none"),
        ("/wrong", "none"), ("/wrong", "raised AuthenticationFailed"),
    ]
    assert old_style.calls == len(watcher.calls)


def test_a_plugin_that_only_wraps_authenticate_is_no_scheme(tmp_path, schemes):
    hub = make(tmp_path, {**schemes, "watcher": Watcher()})
    assert hub.schemes == ("alpha", "beta", "gamma")
    with pytest.raises(authhub.ConfigurationError, match="'watcher' is configured but not installed"):
        make(tmp_path, {**schemes, "watcher": Watcher()}, schemes=["watcher"])


# -- invalidation ------------------------------------------------------------------------------


class Listener:
    def __init__(self, told: list[tuple[str, str, str]], name: str, *, fail: bool = False) -> None:
        self.told, self.name, self.fail = told, name, fail

    @authhub.hookimpl
    def invalidated(self, hub: AuthHub, kind: str, key: str) -> None:
        self.told.append((self.name, kind, key))
        if self.fail:
            raise RuntimeError("cache backend down")


class ListeningScheme(authhub.Scheme):
    told: list[tuple[str, str, str]]

    @authhub.hookimpl
    def invalidated(self, kind: str, key: str) -> None:
        self.told.append((self.name, kind, key))


def test_invalidate_reaches_every_plugin_even_when_one_raises(tmp_path, caplog):
    told: list[tuple[str, str, str]] = []

    class SchemePlugin:
        @authhub.hookimpl
        def create_scheme(self, hub: AuthHub, name: str, settings: Any) -> ListeningScheme:
            scheme = ListeningScheme(hub, name, settings)
            scheme.told = told
            return scheme

    plugins = {
        "first": Listener(told, "first"),
        "failing": Listener(told, "failing", fail=True),
        "object": SchemePlugin(),
        "last": Listener(told, "last"),
    }
    hub = make(tmp_path, plugins)
    hub.upgrade()
    with caplog.at_level(logging.ERROR):
        hub.invalidate("token", "17")
    assert sorted(told) == [
        ("failing", "token", "17"), ("first", "token", "17"), ("last", "token", "17"), ("object", "token", "17")
    ]
    assert "plugin 'failing' failed to drop its cache for token 17" in caplog.text

    told.clear()
    user = hub.users.create("ursula", "pw")
    hub.users.deactivate("ursula")
    assert sorted(told) == [(name, "user", str(user.id)) for name in ["failing", "first", "last", "object"]]


def test_user_changed_reaches_the_scheme_object(tmp_path):
    changed: list[tuple[str, Any]] = []

    class SessionLike(authhub.Scheme):
        @authhub.hookimpl
        def user_changed(self, user: Any) -> None:
            changed.append((self.name, user.username))

    class Plugin:
        @authhub.hookimpl
        def create_scheme(self, hub: AuthHub, name: str, settings: Any) -> SessionLike:
            return SessionLike(hub, name, settings)

    hub = make(tmp_path, {"sessions": Plugin()})
    hub.upgrade()
    hub.users.create("vera", "pw")
    hub.users.set_password("vera", "new")
    assert changed == [("sessions", "vera")]


# -- the command line on a store without management methods -------------------------------------


ACCOUNTS_PLUGIN = """
from authhub.appusers import AccountStorePlugin

plugin = AccountStorePlugin()
"""


@pytest.fixture
def account_store_cli(site: Path, cli_env: dict[str, str]) -> Callable[..., Any]:
    """``authhub`` with an installed plugin whose user store is an application table (string ids, no management)."""
    module = unique("app_accounts")
    install(site, "authhub-app-accounts", "1.0", {"accounts": f"{module}:plugin"}, {module: ACCOUNTS_PLUGIN})
    # Every installed plugin's tables too, as `authhub db upgrade` would make them: read-only
    # commands refuse a database that is not up to date.
    hub = AuthHub(environ={}, database_url=cli_env["AUTHHUB_DATABASE_URL"], **FAST_HASHING)
    hub.upgrade()
    hub.users.add("alice", "pw")
    hub.close()

    def invoke(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(cli, list(args), input=input)

    return invoke


@pytest.mark.parametrize(
    "args",
    [
        ("users", "add", "bob", "--password-stdin"),
        ("users", "set-password", "alice", "--password-stdin"),
        ("users", "deactivate", "alice"),
        ("users", "activate", "alice"),
        ("users", "list"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_user_commands_on_a_store_without_management_are_a_one_line_error(account_store_cli, args):
    result = account_store_cli(*args, input="new password\n")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: the user store AccountStore (from the user_store hook) does not manage users: "
        "change them in the application that keeps them"
    ], result.output
    assert "Traceback" not in result.output


def test_user_commands_naming_an_unknown_user_say_so_on_any_store(account_store_cli):
    result = account_store_cli("users", "set-password", "ghost", "--password-stdin", input="pw\n")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: no user named 'ghost'"]
    exists = account_store_cli("users", "add", "alice", "--password-stdin", input="pw\n")
    assert exists.exit_code == 1
    assert exists.output.strip().splitlines() == ["Error: user 'alice' already exists"]
