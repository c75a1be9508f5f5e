"""The remote generator against a real HTTP server (stdlib, in a thread) serving the tiny StarCoder2,
and against recorded vLLM answers (``httpx.MockTransport``) for the failures a healthy local server
does not produce: overload, crashes, timeouts, garbage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from whence.cli import main
from whence.errors import GeneratorUnavailable, InvalidInput
from whence.generator.attribution import AttributedGenerator, Attributor
from whence.generator.base import GenerationParams, InvalidParameter
from whence.generator.local import LocalGenerator
from whence.generator.remote import RemoteGenerator, completions_url
from whence.index.stores import open_store

from .openai_server import _Server, serve, url_of

# The first test to need the tiny model trains it (a few minutes, once per machine).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def local(tiny_model: Path) -> Iterator[LocalGenerator]:
    g = LocalGenerator(str(tiny_model))
    yield g
    g.close()


@pytest.fixture(scope="module")
def server(local: LocalGenerator) -> Iterator[_Server]:
    with serve(local, api_key="sk-test") as srv:
        yield srv


def prompt_of(corpus: Path, rel: str, n: int) -> tuple[str, str]:
    """The first ``n`` lines without the last newline, and the rest (see ``test_generator.split``)."""
    ls = (corpus / rel).read_text().splitlines(keepends=True)
    return "".join(ls[:n])[:-1], "\n" + "".join(ls[n:])


def test_completions_url() -> None:
    assert completions_url("http://h:8000") == "http://h:8000/v1/completions"
    assert completions_url("http://h:8000/v1/") == "http://h:8000/v1/completions"
    assert completions_url("https://api.x/v1/completions") == "https://api.x/v1/completions"
    # A base with its API version inside (DeepInfra's, for one) gets only /completions.
    assert completions_url("https://api.x/v1/openai") == "https://api.x/v1/openai/completions"
    assert completions_url("https://api.x/v1/openai/") == "https://api.x/v1/openai/completions"
    assert completions_url("https://api.x/openai") == "https://api.x/openai/v1/completions"
    assert completions_url("https://v1.api.x/serve") == "https://v1.api.x/serve/v1/completions"


def test_remote_equals_local_greedy(server: _Server, local: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, rest = prompt_of(tiny_corpus, "cpython/colorsys.py", 40)
    params = GenerationParams(temperature=0, max_new_tokens=80, num_responses=2, stop=("\ndef ",))
    with RemoteGenerator(url_of(server), api_key="sk-test") as remote:
        got = remote.generate(prompt, params)
    want = local.generate(prompt, params)
    assert [c.text for c in got.choices] == [c.text for c in want.choices]
    assert [c.finish_reason for c in got.choices] == [c.finish_reason for c in want.choices]
    assert got.usage == want.usage and got.usage.prompt_tokens > 0
    assert rest.startswith(got.choices[0].text)
    body = server.bodies[-1]
    assert body["model"] == "tiny-starcoder2" and body["n"] == 2 and body["stop"] == ["\ndef "]
    assert "top_k" not in body and "repetition_penalty" not in body  # "off" is not sent


def test_remote_stream_with_attribution(server: _Server, tiny_index: Path, tiny_corpus: Path) -> None:
    prompt, rest = prompt_of(tiny_corpus, "hypothesis/integer.py", 14)
    params = GenerationParams(temperature=0, max_new_tokens=120, top_k=5, repetition_penalty=1.0001)
    with open_store(tiny_index, readonly=True) as store:
        agen = AttributedGenerator(
            RemoteGenerator(url_of(server), api_key="sk-test"), Attributor(store), check_chars=64
        )
        with agen:
            events = list(agen.stream(prompt, params))
    text = "".join(e.text for e in events if e.kind == "text")
    assert len(text) > 100 and rest.startswith(text)
    kinds = [e.kind for e in events]
    assert kinds.index("attribution") < kinds.index("finish")
    finish = events[kinds.index("finish")]
    assert finish.attribution is not None and finish.attribution["matches"][0]["licenses"] == ["MPL-2.0"]
    usage = events[-1].usage
    assert usage is not None and usage.completion_tokens == 120 and usage.prompt_tokens > 0
    assert server.bodies[-1]["stream"] is True and server.bodies[-1]["top_k"] == 5


def test_fim_is_sent_as_starcoder2_tokens(server: _Server, local: LocalGenerator, tiny_corpus: Path) -> None:
    ls = (tiny_corpus / "cpython/colorsys.py").read_text().splitlines(keepends=True)
    prefix, suffix = "".join(ls[40:46]), "".join(ls[49:56])
    params = GenerationParams(temperature=0, max_new_tokens=40)
    with RemoteGenerator(url_of(server), api_key="sk-test") as remote:
        got = remote.generate(prefix, params, suffix=suffix)
    assert server.bodies[-1]["prompt"] == f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"
    assert got.choices[0].text == local.generate(prefix, params, suffix=suffix).choices[0].text


def test_server_refusals_become_our_errors(server: _Server) -> None:
    url = url_of(server)
    with RemoteGenerator(url, api_key="wrong") as r, pytest.raises(GeneratorUnavailable, match="401"):
        r.generate("def f():", GenerationParams())
    missing = r"404 \(The model `starcoder2-15b` does not exist"
    with (
        RemoteGenerator(url, api_key="sk-test", model="starcoder2-15b") as r,
        pytest.raises(GeneratorUnavailable, match=missing),
    ):
        r.generate("def f():", GenerationParams())
    with RemoteGenerator(url, api_key="sk-test") as r, pytest.raises(InvalidParameter) as err:
        r.generate("def f():\n" * 2000, GenerationParams(max_new_tokens=16_000))
    assert err.value.param == "max_new_tokens" and "maximum context length" in str(err.value)


def test_unreachable_server(tmp_path: Path) -> None:
    with (
        RemoteGenerator("http://127.0.0.1:9", retries=1, backoff=0.01) as r,
        pytest.raises(GeneratorUnavailable, match=r"cannot reach .* \(2 tries\)"),
    ):
        r.generate("def f():", GenerationParams())
    with pytest.raises(InvalidInput, match="not an http"):
        RemoteGenerator("localhost:8000")


def test_cli_remote_json(server: _Server, tiny_index: Path, tiny_corpus: Path) -> None:
    prompt, rest = prompt_of(tiny_corpus, "cpython/colorsys.py", 80)
    args = [
        "generate",
        prompt,
        "--remote",
        url_of(server),
        "--api-key",
        "sk-test",
        "--index",
        str(tiny_index),
    ]
    res = CliRunner().invoke(
        main, [*args, "--temperature", "0", "--max-new-tokens", "90", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert rest.startswith(data["choices"][0]["text"])
    assert data["choices"][0]["attribution"]["matches"][0]["path"] == "colorsys.py"
    assert data["usage"]["completion_tokens"] == 90
    res = CliRunner().invoke(
        main, [*args, "--policy", "block-any", "--temperature", "0", "--max-new-tokens", "90"]
    )
    assert res.exit_code == 1 and res.stdout == ""


# -- recorded vLLM exchanges (what a healthy in-process server does not do) --------------------------

VLLM_OK = {
    "id": "cmpl-5e1c0d3ad4b54a2f9f0f1b7b3c1e8a11",
    "object": "text_completion",
    "created": 1764200000,
    "model": "bigcode/starcoder2-15b",
    "choices": [
        {
            "index": 0,
            "text": "    return a + b\n",
            "logprobs": None,
            "finish_reason": "stop",
            "stop_reason": "\ndef ",
        }
    ],
    "usage": {"prompt_tokens": 7, "total_tokens": 14, "completion_tokens": 7, "prompt_tokens_details": None},
}
VLLM_OVERLOADED = {
    "object": "error",
    "message": "The engine is overloaded, try again later",
    "type": "ServiceUnavailableError",
    "param": None,
    "code": 503,
}
VLLM_CRASH = {
    "error": {
        "message": "EngineCore encountered an issue. See stack trace (above) for the root cause.",
        "type": "InternalServerError",
        "param": None,
        "code": 500,
    }
}


def recorded(
    *answers: tuple[int, Any], headers: dict[str, str] | None = None
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(body, Exception):
            raise body
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers or {})

    return httpx.MockTransport(handler), seen


def remote(transport: httpx.MockTransport, **kw: Any) -> RemoteGenerator:
    return RemoteGenerator(
        "http://vllm:8000", model="bigcode/starcoder2-15b", backoff=0.001, transport=transport, **kw
    )


def test_overload_is_retried_then_succeeds() -> None:
    transport, seen = recorded((503, VLLM_OVERLOADED), (503, VLLM_OVERLOADED), (200, VLLM_OK))
    out = remote(transport, retries=2).generate("def add(a, b):\n", GenerationParams(stop=("\ndef ",)))
    assert len(seen) == 3 and out.choices[0].text == "    return a + b\n"
    assert out.usage.completion_tokens == 7 and out.choices[0].finish_reason == "stop"
    sent = json.loads(seen[0].content)
    assert (
        sent["model"] == "bigcode/starcoder2-15b" and sent["max_tokens"] == 512 and sent["temperature"] == 0.7
    )


def test_persistent_failure_names_status_and_tries() -> None:
    transport, seen = recorded((500, VLLM_CRASH))
    with pytest.raises(GeneratorUnavailable, match=r"HTTP 500: EngineCore encountered an issue.*\(3 tries\)"):
        remote(transport, retries=2).generate("x", GenerationParams())
    assert len(seen) == 3


def test_timeout_and_garbage() -> None:
    transport, seen = recorded((0, httpx.ReadTimeout("timed out")))
    with pytest.raises(GeneratorUnavailable, match=r"no answer .* within 5s \(2 tries\)"):
        remote(transport, retries=1, timeout=5).generate("x", GenerationParams())
    assert len(seen) == 2
    transport, _ = recorded((200, b"<html>502 Bad Gateway</html>"))
    with pytest.raises(GeneratorUnavailable, match="not JSON"):
        remote(transport).generate("x", GenerationParams())
    transport, _ = recorded((200, {"object": "list"}))
    with pytest.raises(GeneratorUnavailable, match="not an OpenAI completions answer"):
        remote(transport).generate("x", GenerationParams())


def test_stream_without_usage_counts_events_and_cuts_stop() -> None:
    chunks = [
        {"choices": [{"index": 0, "text": t, "finish_reason": None}]}
        for t in ["    return", " a", " +", " b", "\n", "\ndef"]
    ]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + ": keep-alive\n\ndata: [DONE]\n\n"
    transport, _ = recorded((200, sse.encode()))
    events = list(remote(transport).stream("def add(a, b):\n", GenerationParams(stop=("\ndef",))))
    assert "".join(e.text for e in events if e.kind == "text") == "    return a + b\n"
    finish = next(e for e in events if e.kind == "finish")
    assert finish.finish_reason == "stop"
    assert events[-1].usage is not None and events[-1].usage.completion_tokens == 6
