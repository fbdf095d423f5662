"""Chain semantics, run through both the sync and the async runner."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest
import sqlalchemy.exc

import authhub
from authhub import AuthHub, Request

from .conftest import Recorder, header_scheme


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Any:
    """Authenticate through ``hub.authenticate`` or ``await hub.aauthenticate``."""

    def sync(hub: AuthHub, req: Request, schemes: Any = None) -> authhub.Identity:
        return hub.authenticate(req, schemes)

    def via_async(hub: AuthHub, req: Request, schemes: Any = None) -> authhub.Identity:
        return asyncio.run(hub.aauthenticate(req, schemes))

    return sync if request.param == "sync" else via_async


def make(tmp_path: Any, plugins: dict[str, Any], **settings: Any) -> AuthHub:
    return AuthHub(
        directory=tmp_path,
        environ={},
        load_entry_points=False,
        plugins=plugins,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        **settings,
    )


def req(**headers: str) -> Request:
    return Request("GET", "/", [(name.replace("_", "-"), value) for name, value in headers.items()])


def test_first_scheme_that_recognises_its_credentials_decides(tmp_path, schemes, run):
    hub = make(tmp_path, schemes, schemes=["alpha", "beta"])
    identity = run(hub, req(x_beta="b-secret"))
    assert identity.scheme == "beta"
    assert identity.user.username == "bob"
    assert identity.auth == "b-secret"
    # Both present: the earlier scheme in the chain wins.
    assert run(hub, req(x_alpha="a-secret", x_beta="b-secret")).scheme == "alpha"


def test_order_follows_configuration(tmp_path, schemes, run):
    hub = make(tmp_path, schemes, schemes=["beta", "alpha"])
    assert run(hub, req(x_alpha="a-secret", x_beta="b-secret")).scheme == "beta"


def test_wrong_credentials_stop_the_chain(tmp_path, schemes, run):
    hub = make(tmp_path, schemes, schemes=["alpha", "beta"])
    with pytest.raises(authhub.AuthenticationFailed) as info:
        run(hub, req(x_alpha="wrong", x_beta="b-secret"))
    assert info.value.scheme == "alpha"
    assert info.value.status_code == 401


def test_no_answer_is_the_anonymous_user(tmp_path, schemes, run):
    hub = make(tmp_path, schemes, schemes=["alpha", "beta"])
    identity = run(hub, req())
    assert identity.scheme is None
    assert isinstance(identity.user, authhub.AnonymousUser)
    assert identity.user.is_authenticated is False
    assert identity.auth is None


def anonymous_marker() -> str:
    return "nobody"


def test_unauthenticated_settings_change_what_anonymous_means(tmp_path, schemes, run):
    hub = make(
        tmp_path,
        schemes,
        schemes=["alpha"],
        unauthenticated_user=None,
        unauthenticated_token=f"{__name__}:anonymous_marker",
    )
    identity = run(hub, req())
    assert identity.user is None
    assert identity.auth == "nobody"


def test_unauthenticated_user_that_cannot_be_imported_is_a_configuration_error(tmp_path, schemes):
    with pytest.raises(authhub.ConfigurationError, match="unauthenticated_user.*no.such.module"):
        make(tmp_path, schemes, unauthenticated_user="no.such.module:Thing")


def test_per_call_override_of_the_scheme_list(tmp_path, schemes, run):
    hub = make(tmp_path, schemes, schemes=["alpha"])
    assert run(hub, req(x_beta="b-secret")).scheme is None
    assert run(hub, req(x_beta="b-secret"), ["beta"]).scheme == "beta"
    with pytest.raises(authhub.ConfigurationError, match="'nope'"):
        run(hub, req(), ["nope"])


class Exploding:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    @authhub.hookimpl
    def authenticate(self, request: Request) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "error", "status"),
    [
        (RuntimeError("boom"), authhub.InternalError, 500),
        (KeyError("x"), authhub.InternalError, 500),
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed")), authhub.StoreUnavailable, 503),
    ],
)
def test_a_plugin_fault_fails_closed(tmp_path, schemes, run, caplog, exc, error, status):
    hub = make(tmp_path, {"broken": Exploding(exc), **schemes}, schemes=["broken", "alpha"])
    with caplog.at_level(logging.ERROR, logger="authhub.chain"), pytest.raises(error) as info:
        # Good alpha credentials behind the broken scheme must not be reached.
        run(hub, req(x_alpha="a-secret"))
    assert info.value.status_code == status
    assert info.value.scheme == "broken"
    assert "broken" in caplog.text


def test_a_plugin_returning_nonsense_fails_closed(tmp_path, run):
    class Nonsense:
        @authhub.hookimpl
        def authenticate(self) -> Any:
            return "alice"

    hub = make(tmp_path, {"nonsense": Nonsense()}, schemes=["nonsense"])
    with pytest.raises(authhub.InternalError):
        run(hub, req())


def test_authhub_errors_other_than_401_keep_their_status(tmp_path, run):
    class Csrf:
        @authhub.hookimpl
        def authenticate(self) -> Any:
            raise authhub.PermissionDenied("CSRF Failed: no token.")

    hub = make(tmp_path, {"csrf": Csrf()}, schemes=["csrf"])
    with pytest.raises(authhub.PermissionDenied) as info:
        run(hub, req())
    assert info.value.status_code == 403


def test_coroutine_and_plain_schemes_mix(tmp_path, schemes, run):
    class AsyncScheme:
        @authhub.hookimpl
        async def authenticate(self, request: Request) -> Any:
            await asyncio.sleep(0)
            if request.headers.get_all("x-async"):
                return authhub.User(9, "async-user"), None
            return None

    hub = make(tmp_path, {"asyncy": AsyncScheme(), **schemes}, schemes=["alpha", "asyncy", "beta"])
    assert run(hub, req(x_async="1")).user.username == "async-user"
    assert run(hub, req(x_beta="b-secret")).scheme == "beta"
    assert run(hub, req()).scheme is None


def test_async_runner_keeps_the_event_loop_free(tmp_path):
    """A blocking plain scheme runs in a worker thread: other tasks keep running meanwhile."""
    import threading
    import time

    loop_threads: list[int] = []

    class Slow:
        @authhub.hookimpl
        def authenticate(self) -> Any:
            loop_threads.append(threading.get_ident())
            time.sleep(0.2)
            return None

    hub = make(tmp_path, {"slow": Slow()}, schemes=["slow"])

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await hub.aauthenticate(req())
        task.cancel()
        assert loop_threads[0] != threading.get_ident()
        return ticks

    assert asyncio.run(main()) >= 5


def test_scheme_arguments_are_passed_by_name(tmp_path, run):
    seen: dict[str, Any] = {}

    class Picky:
        @authhub.hookimpl
        def authenticate(self, hub: AuthHub, settings: Any) -> Any:
            seen["hub"] = hub
            seen["settings"] = dict(settings)
            return None

        @authhub.hookimpl
        def scheme_settings(self) -> dict[str, authhub.Setting]:
            return {"flavour": authhub.Setting("plain")}

    hub = make(tmp_path, {"picky": Picky()}, schemes=["picky"], picky={"flavour": "salted"})
    run(hub, req())
    assert seen == {"hub": hub, "settings": {"flavour": "salted"}}


ORDERS = [
    order
    for size in range(4)
    for order in itertools.permutations(("request", "settings", "hub"), size)
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: ",".join(order) or "none")
def test_every_subset_and_order_of_arguments_gets_the_right_values(tmp_path, run, order):
    seen: dict[str, Any] = {}
    # def authenticate(self, <order>): record what came in under each name
    namespace: dict[str, Any] = {"seen": seen, "authhub": authhub}
    exec(  # pluggy reads the parameter names, so each order needs a real signature
        f"def authenticate(self, {', '.join(order)}):\n"
        f"    seen.update({{name: value for name, value in locals().items() if name != 'self'}})\n"
        "    return authhub.User(1, 'x'), 'tok'\n",
        namespace,
    )
    plugin = type("Ordered", (), {"authenticate": authhub.hookimpl(namespace["authenticate"])})()
    hub = make(tmp_path, {"ordered": plugin}, schemes=["ordered"])
    request = req()
    identity = run(hub, request)
    assert identity.auth == "tok" and identity.scheme == "ordered"
    expected = {"request": request, "settings": hub.settings.section("ordered"), "hub": hub}
    assert set(seen) == set(order)
    for name in order:
        if name == "settings":
            assert dict(seen[name]) == dict(expected[name])
        else:
            assert seen[name] is expected[name]


def test_lazy_identity_runs_the_chain_once(tmp_path, schemes):
    calls = []

    class Counting:
        @authhub.hookimpl
        def authenticate(self) -> Any:
            calls.append(1)
            return authhub.User(1, "x"), "tok"

    hub = make(tmp_path, {"counting": Counting()}, schemes=["counting"])
    request = Request("GET", "/", hub=hub)
    assert calls == []
    assert request.user.username == "x"
    assert request.auth == "tok"
    assert request.auth_scheme == "counting"
    assert calls == [1]


def test_observer_sees_every_outcome(tmp_path, schemes, run):
    recorder = Recorder()
    hub = make(tmp_path, {**schemes, "audit": recorder}, schemes=["alpha"])
    run(hub, req(x_alpha="a-secret"))
    run(hub, req())
    with pytest.raises(authhub.AuthenticationFailed):
        run(hub, req(x_alpha="bad"))
    kinds = [(o.kind, o.scheme) for o in recorder.outcomes]
    assert kinds == [("authenticated", "alpha"), ("anonymous", None), ("refused", "alpha")]
    assert recorder.outcomes[0].user.username == "alice"


def test_a_failing_observer_never_decides_the_request(tmp_path, schemes, run, caplog):
    class BadObserver:
        @authhub.hookimpl
        def authentication_outcome(self, outcome: Any) -> None:
            raise RuntimeError("audit log down")

    hub = make(tmp_path, {**schemes, "audit": BadObserver()}, schemes=["alpha"])
    with caplog.at_level(logging.ERROR):
        assert run(hub, req(x_alpha="a-secret")).scheme == "alpha"
    assert "observer failed" in caplog.text


class PositionedPlugin:
    """A plugin whose ``create_scheme`` makes an :class:`authhub.Scheme` at ``position`` (or the default)."""

    def __init__(self, position: int | None) -> None:
        self.position = position

    @authhub.hookimpl
    def create_scheme(self, hub: AuthHub, name: str, settings: Any) -> authhub.Scheme:
        attributes: dict[str, Any] = {"authenticate": authhub.hookimpl(lambda self, request: None)}
        if self.position is not None:
            attributes["position"] = self.position
        return type(f"{name.title()}Scheme", (authhub.Scheme,), attributes)(hub, name, settings)


def test_default_order_when_unconfigured(tmp_path):
    """Unconfigured, the chain goes by each scheme object's ``position``, then by name."""
    positions = {"zeta": None, "session": 400, "basic": 300, "token": 100, "alpha": None, "late": 300, "early": 50}
    hub = make(tmp_path, {name: PositionedPlugin(position) for name, position in positions.items()})
    assert hub.schemes == ("early", "token", "basic", "late", "session", "alpha", "zeta")
    assert hub.installed_schemes == list(hub.schemes)


def test_default_order_knows_no_scheme_by_name(tmp_path):
    """The core names no scheme: a plugin called ``token`` without a position goes by name like any other."""
    plugins = {name: header_scheme(f"x-{name}", {}) for name in ["zeta", "session", "basic", "token", "alpha"]}
    assert make(tmp_path, plugins).schemes == ("alpha", "basic", "session", "token", "zeta")
    moved = {**plugins, "token": PositionedPlugin(authhub.Scheme.position + 1)}
    assert make(tmp_path, moved).schemes == ("alpha", "basic", "session", "zeta", "token")


def test_configured_scheme_not_installed_stops_the_hub(tmp_path, schemes):
    with pytest.raises(authhub.ConfigurationError) as info:
        make(tmp_path, schemes, schemes=["alpha", "ldap"])
    assert "'ldap'" in str(info.value)
    assert "alpha, beta, gamma" in str(info.value)


def test_a_scheme_listed_twice_is_refused(tmp_path, schemes):
    with pytest.raises(authhub.ConfigurationError, match="twice"):
        make(tmp_path, schemes, schemes=["alpha", "alpha"])


def test_two_hubs_with_different_chains_live_side_by_side(tmp_path, schemes, run):
    first = make(tmp_path, schemes, schemes=["alpha"])
    second = make(tmp_path, {"beta": header_scheme("x-beta", {"b-secret": "bob"})}, schemes=["beta"])
    request_headers = {"x_alpha": "a-secret", "x_beta": "b-secret"}
    assert run(first, req(**request_headers)).scheme == "alpha"
    assert run(second, req(**request_headers)).scheme == "beta"
    assert "alpha" not in second.schemes
