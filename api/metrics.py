"""Prometheus metrics of the service (names prefixed ``whence_``), one registry per app."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The service's counters, histograms and gauges."""

    def __init__(
        self,
        documents: Callable[[], float],
        search_processes: Callable[[], float],
        search_queue: Callable[[], float],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "whence_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "whence_http_request_duration_seconds", "Time to answer a request.", ["route"], registry=r,
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.verdicts = Counter(
            "whence_search_verdicts", "Search answers by verdict.", ["verdict"], registry=r
        )
        self.tokens = Counter("whence_generated_tokens", "Tokens of completions.", ["kind"], registry=r)
        self.blocked = Counter(
            "whence_completions_blocked", "Completions withheld by the policy.", registry=r
        )
        Gauge("whence_index_documents", "Documents in the index.", registry=r).set_function(documents)
        Gauge(
            "whence_search_processes",
            "Search processes running (0: searches on the server's threads).",
            registry=r,
        ).set_function(search_processes)
        Gauge(
            "whence_search_queue",
            "Searches waiting for a search process (a lasting queue: add processes or servers).",
            registry=r,
        ).set_function(search_queue)
        self.search_process_exits = Counter(
            "whence_search_process_exits",
            "Search processes that stopped while serving (killed, out of memory) and were replaced.",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
