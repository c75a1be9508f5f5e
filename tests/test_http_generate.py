"""Generation over HTTP on the tiny StarCoder2: /v1/completions (plain and streamed) and the hosted-API
route, each choice attributed; usage and cost accounted to the key; the playground in a real browser."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.test_generator import split
from tests.test_web import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)
from whence.api.app import create_app
from whence.api.settings import Settings
from whence.api.state import State

pytestmark = pytest.mark.timeout(1200)  # the first run on a machine trains the tiny model


@pytest.fixture(scope="module")
def served(tiny_model: Path, tiny_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("gen-http")
    s = Settings(index=str(tiny_index), state=str(folder / "state.sqlite"), model=str(tiny_model))
    state = State(s.state)
    _, key = state.create_key("gen")
    state.close()
    with TestClient(create_app(s)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def _sse(text: str) -> list[Any]:
    frames = [f.removeprefix("data: ") for f in text.split("\n\n") if f.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    return [json.loads(f) for f in frames[:-1]]


def test_completion_is_attributed(served: TestClient, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    res = served.post("/v1/completions", json={"prompt": prompt, "max_tokens": 120, "temperature": 0})
    assert res.status_code == 200, res.text
    out = res.json()
    assert out["object"] == "text_completion" and out["id"].startswith("cmpl-")
    choice = out["choices"][0]
    assert (
        len(choice["text"]) > 200 and rest.startswith(choice["text"]) and choice["finish_reason"] == "length"
    )
    top = choice["attribution"]["matches"][0]
    assert choice["attribution"]["verdict"] == "verbatim"
    assert (top["repo"], top["path"], top["licenses"]) == ("python/cpython", "colorsys.py", ["PSF-2.0"])
    u = out["usage"]
    assert (
        u["completion_tokens"] == 120
        and u["total_tokens"] == u["prompt_tokens"] + 120
        and u["prompt_tokens"] > 50
    )
    usage = served.get("/v1/usage").json()
    assert usage["completion_tokens"] >= 120
    assert usage["cost_usd"] == pytest.approx((usage["prompt_tokens"] + usage["completion_tokens"]) * 0.4e-6)


def test_streamed_completion_carries_attribution_events(served: TestClient, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    body = {"prompt": prompt, "max_tokens": 250, "temperature": 0}  # text is checked every 256 characters
    plain = served.post("/v1/completions", json=body).json()["choices"][0]["text"]
    res = served.post("/v1/completions", json=body | {"stream": True})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/event-stream")
    events = _sse(res.text)
    text = "".join(c["text"] for e in events for c in e["choices"])
    assert text == plain and rest.startswith(text)
    kinds = [("attribution" in c, c["finish_reason"]) for e in events for c in e["choices"]]
    early = [i for i, (att, fin) in enumerate(kinds) if att and fin is None]
    final = [i for i, (att, fin) in enumerate(kinds) if fin is not None]
    assert early and final and early[0] < final[0]  # a match reported before the end
    last = next(c for e in events for c in e["choices"] if c["finish_reason"])
    assert last["finish_reason"] in ("length", "stop") and last["attribution"]["verdict"] == "verbatim"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 250


def test_two_responses_stop_strings_and_fim(served: TestClient, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    two = served.post("/v1/completions", json={"prompt": prompt, "max_tokens": 20, "n": 2, "temperature": 0.8,
                                               "seed": 3}).json()  # fmt: skip
    assert [c["index"] for c in two["choices"]] == [0, 1]
    stop = rest.split("\n", 3)[2].strip()[:6]
    cut = served.post(
        "/v1/completions", json={"prompt": prompt, "max_tokens": 100, "temperature": 0, "stop": [stop]}
    )
    assert (
        stop not in cut.json()["choices"][0]["text"] and cut.json()["choices"][0]["finish_reason"] == "stop"
    )
    lines = (tiny_corpus / "cpython/colorsys.py").read_text().splitlines(keepends=True)
    fim = served.post("/v1/completions", json={"prompt": "".join(lines[:50]), "suffix": "".join(lines[52:70]),
                                               "max_tokens": 60, "temperature": 0})  # fmt: skip
    assert fim.status_code == 200 and fim.json()["choices"][0]["finish_reason"] in ("stop", "length")


def test_hosted_api_shape(served: TestClient, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    body = {"input": prompt, "max_new_tokens": 64, "temperature": 0, "num_responses": 1}
    res = served.post("/v1/inference/bigcode/starcoder2-15b", json=body)
    assert res.status_code == 200, res.text
    out = res.json()
    r = out["results"][0]
    assert rest.startswith(r["generated_text"]) and r["num_tokens"] == 64 and r["num_input_tokens"] > 50
    st = out["inference_status"]
    assert st["status"] == "succeeded" and st["tokens_generated"] == 64 and st["runtime_ms"] >= 0
    assert st["cost"] == pytest.approx((64 + r["num_input_tokens"]) * 0.4e-6)
    assert r["attribution"]["verdict"] == "verbatim"


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [("/v1/completions", {"prompt": "x", "temperature": 101}, "temperature"),
     ("/v1/completions", {"prompt": "x", "max_tokens": 0}, "max_tokens"),
     ("/v1/completions", {"prompt": "x", "n": 3}, "n"),
     ("/v1/completions", {"prompt": "x", "stop": [f"s{i}" for i in range(17)]}, "stop"),
     ("/v1/completions", {"prompt": "x", "top_p": 0}, "top_p"),
     ("/v1/inference/bigcode/starcoder2-15b", {"input": "x", "repetition_penalty": 6}, "repetition_penalty"),
     ("/v1/inference/bigcode/starcoder2-15b", {"input": "x", "presence_penalty": -3}, "presence_penalty")],
)  # fmt: skip
def test_out_of_range_parameters_are_rejected_naming_them(
    served: TestClient, route: str, body: object, field: str
) -> None:
    """422 on the hosted route; 400 with OpenAI's `param` too on the OpenAI route (its clients raise
    BadRequestError for 400 only)."""
    res = served.post(route, json=body)
    status = 400 if route == "/v1/completions" else 422
    assert res.status_code == status and res.json()["error"]["field"] == field, res.text
    if route == "/v1/completions":
        assert (
            res.json()["error"]["param"] == field and res.json()["error"]["type"] == "invalid_request_error"
        )


def test_a_prompt_over_the_context_is_400_also_when_streaming(served: TestClient) -> None:
    prompt = "".join(f"value_{i} = {i * 7}\n" for i in range(6000))
    for stream in (False, True):
        res = served.post("/v1/completions", json={"prompt": prompt, "max_tokens": 512, "stream": stream})
        assert res.status_code == 400 and res.json()["error"]["param"] == "max_tokens", res.text


def test_a_stream_dropped_before_its_first_byte_gives_the_model_back(served: TestClient) -> None:
    """A client that disconnects before a stream starts must not keep the model: every later generation
    waited for it forever (found by schemathesis)."""
    body = json.dumps({"prompt": "def f(x):\n", "max_tokens": 8, "stream": True}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"authorization", served.headers["Authorization"].encode())]  # fmt: skip
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/completions", "raw_path": b"/v1/completions",
             "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
             "server": ("t", 80)}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def one_request() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}  # gone at once

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        await served.app(scope, receive, send)

    for _ in range(3):
        asyncio.run(one_request())
    gc.collect()
    done: list[int] = []
    t = threading.Thread(
        target=lambda: done.append(
            served.post("/v1/completions", json={"prompt": "x = ", "max_tokens": 4}).status_code
        ),
        daemon=True,
    )
    t.start()
    t.join(timeout=120)
    assert done == [200], "the model stayed held by a dropped stream"


def test_no_model_configured_is_503(built_index: Path, tmp_path: Path) -> None:
    s = Settings(index=str(built_index), state=str(tmp_path / "s.sqlite"))
    state = State(s.state)
    _, key = state.create_key("k")
    with TestClient(create_app(s)) as c:
        res = c.post("/v1/completions", json={"prompt": "x"}, headers={"Authorization": f"Bearer {key}"})
        assert res.status_code == 503 and "--model" in res.json()["error"]["message"]


def test_block_copyleft_policy_over_http(
    tiny_model: Path, tiny_index: Path, tiny_corpus: Path, tmp_path: Path
) -> None:
    s = Settings(
        index=str(tiny_index),
        state=str(tmp_path / "s.sqlite"),
        model=str(tiny_model),
        policy="block-copyleft",
    )
    state = State(s.state)
    _, key = state.create_key("k")
    mpl_prompt, _ = split(tiny_corpus, "hypothesis/integer.py", 14)
    with TestClient(create_app(s)) as c:
        res = c.post("/v1/completions", json={"prompt": mpl_prompt, "max_tokens": 150, "temperature": 0},
                     headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        choice = res.json()["choices"][0]
        assert (choice["text"], choice["finish_reason"]) == ("", "content_filter")
        assert choice["attribution"]["matches"][0]["license_category"] == "weak-copyleft"
        metrics = c.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
        assert "whence_completions_blocked_total 1.0" in metrics


def test_playground_streams_and_highlights(
    browser: Any,  # noqa: F811
    tiny_model: Path,
    tiny_index: Path,
    tiny_corpus: Path,
    tmp_path: Path,
) -> None:
    from tests.servers import serve_in_thread

    s = Settings(index=str(tiny_index), state=str(tmp_path / "s.sqlite"), model=str(tiny_model))
    state = State(s.state)
    _, key = state.create_key("browser")
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    with serve_in_thread(create_app(s)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/")
            page.fill("#api-key", key)
            page.click("#tab-generate")
            page.fill("#prompt", prompt)
            page.fill("#max-tokens", "120")
            page.fill("#temperature", "0")
            page.click("#gen-btn")
            # A locator assertion, not wait_for_function: the page's Content-Security-Policy forbids the
            # eval that a string predicate is polled with.
            expect(page.locator("#gen-status")).to_have_text(re.compile(r"^done"), timeout=120_000)
            assert page.inner_text("#gen-status") == "done · attribution: verbatim"
            assert page.locator("#gen-output .attributed").count() >= 5
            link = page.locator("#gen-attribution a.source-link").first
            assert link.inner_text() == "python/cpython/colorsys.py"
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
        finally:
            page.close()
