"""authhub-prometheus-example: Prometheus counters of every authentication outcome.

Installed (``pip install ./docs/metrics-plugin``), each hub gets its own
:class:`OutcomeMetrics` with its own registry, and ``authhub serve`` answers
``GET /metrics`` with it. An application registers one itself instead,
on the process's registry, and exposes that as it already does::

    import prometheus_client
    hub = authhub.AuthHub(plugins={"metrics": OutcomeMetrics(prometheus_client.REGISTRY)})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

import authhub

OUTCOMES = "authhub_authentication_outcomes"


@authhub.hookimpl
def create_scheme(hub: authhub.AuthHub, name: str, settings: Mapping[str, Any]) -> OutcomeMetrics:
    return OutcomeMetrics()


class OutcomeMetrics:
    """One counter, ``authhub_authentication_outcomes_total{kind, scheme}``, fed by ``authentication_outcome``.

    ``kind`` is the outcome's: ``authenticated``, ``anonymous``, ``refused``,
    ``locked`` or ``fault``; ``scheme`` the scheme that answered or refused,
    ``none`` when none did.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        #: Where the counter lives: its own registry unless one is given (a hub's counts stay its own).
        self.registry = registry if registry is not None else CollectorRegistry()
        self.outcomes = Counter(
            OUTCOMES, "Finished authentication attempts, by outcome and scheme.", ["kind", "scheme"],
            registry=self.registry,
        )

    @authhub.hookimpl
    def authentication_outcome(self, outcome: authhub.Outcome) -> None:
        # Only bounded labels: a user name or a path would make one time series each, and names are personal data.
        self.outcomes.labels(kind=outcome.kind, scheme=outcome.scheme or "none").inc()

    @authhub.hookimpl
    def serve_routes(self) -> list[authhub.Route]:
        return [authhub.Route("/metrics", self.exposition, ("GET",))]

    def exposition(self, request: authhub.Request) -> authhub.Response:
        """The registry in Prometheus's text format."""
        return authhub.Response(200, [("Content-Type", CONTENT_TYPE_LATEST)], generate_latest(self.registry))
