"""/metrics over the wire (``whence serve`` as its own process): the scrape token, API keys that are not
billed for scrapes, the server process's ``process_*`` metrics and OpenMetrics negotiation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from tests.servers import whence_serve
from whence.api.metrics import wants_openmetrics
from whence.api.settings import Settings
from whence.api.state import State

TOKEN = "scrape-token-0123456789abcdef"
OPENMETRICS_ACCEPT = (  # what Prometheus itself sends
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture(scope="module")
def server(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server with a scrape token and a key whose rate limit allows two requests (and then one a
    minute): more than two billed requests would be refused."""
    state_path = tmp_path_factory.mktemp("metrics") / "state.sqlite"
    state = State(str(state_path))
    _, key = state.create_key("scraper")
    state.close()
    env = {
        "WHENCE_METRICS_TOKEN": TOKEN,
        "WHENCE_RATE_LIMIT_PER_MINUTE": "1",
        "WHENCE_RATE_LIMIT_BURST": "2",
        "WHENCE_SEARCH_PROCESSES": "0",
    }
    with whence_serve(["--index", str(built_index), "--state", str(state_path)], env) as (_, base):
        yield base, key


def _samples(text: str, parse: object = parse_text) -> dict[str, float]:
    return {s.name: s.value for family in parse(text) for s in family.samples}  # type: ignore[operator]


def test_the_scrape_token_reads_metrics_without_an_api_key(server: tuple[str, str]) -> None:
    base, _ = server
    res = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = _samples(res.text)
    assert samples["process_resident_memory_bytes"] > 1e6  # the server process's own memory
    assert samples["process_cpu_seconds_total"] > 0
    assert samples["process_open_fds"] >= 3
    assert "python_info" in samples
    assert samples["whence_index_documents"] > 0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-the-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_metrics_without_the_token_or_a_key_is_401(server: tuple[str, str], headers: dict[str, str]) -> None:
    res = httpx.get(f"{server[0]}/metrics", headers=headers)
    assert res.status_code == 401
    assert res.json()["error"]["status"] == 401 and "whence_" not in res.text


def test_scrapes_with_an_api_key_are_not_billed_nor_rate_limited(server: tuple[str, str]) -> None:
    base, key = server
    auth = {"Authorization": f"Bearer {key}"}
    for _ in range(5):  # the key may make two billed requests before it is throttled
        assert httpx.get(f"{base}/metrics", headers=auth).status_code == 200
    usage = httpx.get(f"{base}/v1/usage", headers=auth)
    assert usage.status_code == 200
    assert usage.json()["requests"] == 1  # the usage request itself, none of the scrapes
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert (
        'whence_http_requests_total{method="GET",route="/metrics",status="200"}' in text
    )  # still HTTP requests


def test_openmetrics_is_served_to_who_asks_for_it(server: tuple[str, str]) -> None:
    base, _ = server
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": OPENMETRICS_ACCEPT}
    res = httpx.get(f"{base}/metrics", headers=headers)
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert "accept" in res.headers["vary"].lower()
    assert res.text.endswith("# EOF\n")
    samples = _samples(res.text, parse_openmetrics)  # the OpenMetrics parser is strict: this validates it
    assert samples["process_resident_memory_bytes"] > 1e6 and "whence_index_documents" in samples


@pytest.mark.parametrize(
    "accept",
    [
        "text/plain",
        "application/openmetrics-text; version=abc",  # prometheus_client's own negotiation raises on this
        "application/openmetrics-text; version=99.0.0",
        "application/openmetrics-text; q=0",
        "application/openmetrics-text; q=zero",
        ";;;,,,=",
        "x" * 10_000,
    ],
)
def test_other_or_malformed_accept_headers_get_the_text_format(server: tuple[str, str], accept: str) -> None:
    assert not wants_openmetrics(accept)
    res = httpx.get(f"{server[0]}/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Accept": accept})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "process_resident_memory_bytes" in _samples(res.text)


def test_a_short_scrape_token_is_refused() -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(metrics_token="short")
