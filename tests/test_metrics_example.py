"""The Prometheus example plugin (docs/metrics-plugin): counts from real served requests."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

import authhub
from authhub.testing import hub_for_tests

from .probe import ProbeScheme

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "metrics-plugin" / "src"
SECRET = "the-right-secret"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example's module, imported from the docs as an installed copy would be."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return importlib.import_module("authhub_prometheus")


@pytest.fixture
def hub(tmp_path: Path, example: ModuleType) -> Iterator[authhub.AuthHub]:
    hub = hub_for_tests(tmp_path, plugins={"probe": ProbeScheme(SECRET), "metrics": example}, schemes=["probe"],
                        load_entry_points=False)
    yield hub
    hub.close()


def send_requests(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(3):
            assert client.get("/whoami", headers={"Authorization": f"Probe alice:{SECRET}"}).status_code == 200
        assert client.get("/whoami", headers={"Authorization": "Probe alice:wrong"}).status_code == 401
        assert client.get("/whoami").status_code == 200


def test_counts_read_from_the_registry(hub: authhub.AuthHub, example: ModuleType,
                                       authhub_live_server: Callable[[authhub.AuthHub], str]) -> None:
    send_requests(authhub_live_server(hub))
    registry = hub.find_scheme(example.OutcomeMetrics).registry
    count = registry.get_sample_value
    total = "authhub_authentication_outcomes_total"
    assert count(total, {"kind": "authenticated", "scheme": "probe"}) == 3
    assert count(total, {"kind": "refused", "scheme": "probe"}) == 1
    assert count(total, {"kind": "anonymous", "scheme": "none"}) == 1
    assert count(total, {"kind": "fault", "scheme": "probe"}) is None


def test_counts_read_from_the_metrics_route(hub: authhub.AuthHub,
                                            authhub_live_server: Callable[[authhub.AuthHub], str]) -> None:
    base = authhub_live_server(hub)
    send_requests(base)
    response = httpx.get(base + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    samples = {(s.labels["kind"], s.labels["scheme"]): s.value
               for s in families["authhub_authentication_outcomes"].samples if s.name.endswith("_total")}
    assert samples == {("authenticated", "probe"): 3.0, ("refused", "probe"): 1.0, ("anonymous", "none"): 1.0}
    assert "alice" not in response.text and SECRET not in response.text


def test_two_hubs_keep_their_own_counts(tmp_path: Path, example: ModuleType) -> None:
    hubs = [hub_for_tests(tmp_path / str(n), plugins={"probe": ProbeScheme(SECRET), "metrics": example},
                          schemes=["probe"], load_entry_points=False) for n in (1, 2)]
    try:
        hubs[0].authenticate(authhub.Request("GET", "/", [("Authorization", f"Probe bob:{SECRET}")], hub=hubs[0]))
        counts = [hub.find_scheme(example.OutcomeMetrics).registry.get_sample_value(
            "authhub_authentication_outcomes_total", {"kind": "authenticated", "scheme": "probe"}) for hub in hubs]
        assert counts == [1.0, None]
    finally:
        for hub in hubs:
            hub.close()


def test_an_application_registers_it_on_its_own_registry(tmp_path: Path, example: ModuleType) -> None:
    registry = prometheus_client.CollectorRegistry()
    hub = hub_for_tests(tmp_path, plugins={"probe": ProbeScheme(SECRET), "metrics": example.OutcomeMetrics(registry)},
                        schemes=["probe"], load_entry_points=False)
    try:
        with pytest.raises(authhub.AuthenticationFailed):
            hub.authenticate(authhub.Request("GET", "/", [("Authorization", "Probe bob:nope")], hub=hub))
    finally:
        hub.close()
    assert registry.get_sample_value("authhub_authentication_outcomes_total",
                                     {"kind": "refused", "scheme": "probe"}) == 1.0
