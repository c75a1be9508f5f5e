"""Prometheus metrics of the service (names prefixed ``whence_``, with the server process's own
``process_*`` and ``python_info``), one registry per app, in Prometheus' text format or OpenMetrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.openmetrics import exposition as openmetrics

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_FORMAT = openmetrics.CONTENT_TYPE_LATEST  # application/openmetrics-text; version=1.0.0; …


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
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, … (Linux)
        PlatformCollector(registry=r)  # python_info
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

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics and their media type: OpenMetrics 1.0 when ``accept`` (a request's ``Accept``
        header) asks for ``application/openmetrics-text``, else Prometheus' text format 0.0.4."""
        if wants_openmetrics(accept):
            body: bytes = openmetrics.generate_latest(self.registry)  # type: ignore[no-untyped-call]
            return body, OPENMETRICS_FORMAT
        return generate_latest(self.registry), TEXT_FORMAT


def wants_openmetrics(accept: str) -> bool:
    """Whether an ``Accept`` header asks for OpenMetrics: a media range ``application/openmetrics-text``
    with no version or version 1.0.0 (the one written here) and a quality above 0.  Anything else,
    malformed headers included, gets the text format, which every Prometheus reads."""
    for media_range in accept[:4096].split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        if kind.lower() != "application/openmetrics-text":
            continue
        values = dict(p.partition("=")[::2] for p in params)
        quality = values.get("q", "1").strip()
        try:
            acceptable = float(quality) > 0
        except ValueError:
            acceptable = False
        if acceptable and values.get("version", "1.0.0").strip() == "1.0.0":
            return True
    return False
