"""The TGI backend on recorded Text Generation Inference exchanges (``httpx.MockTransport``): what a
real TGI sends that whence's own TGI routes do not (special end-of-text tokens, stop sequences kept in
the text, its error bodies, overload).  The backend against a live server is in test_http_hosted.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from whence.errors import GeneratorUnavailable, InvalidInput
from whence.generator.base import GenerationParams, InvalidParameter
from whence.generator.remote import RemoteGenerator
from whence.generator.tgi import TGIGenerator, base_url, detect_protocol, remote_backend

TGI_INFO = {"model_id": "bigcode/starcoder2-15b", "model_sha": "46d44742909c0a6a2d8b2a8a3b1e7e5b5a0c9f3e",
            "max_total_tokens": 16384, "max_input_tokens": 16383, "router": "text-generation-router",
            "version": "3.3.6"}  # fmt: skip


def _sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"data:{json.dumps(e)}\n\n" for e in events).encode()


def _token(i: int, tid: int, text: str, logprob: float, special: bool = False, **last: Any) -> dict[str, Any]:
    out = {"index": i, "token": {"id": tid, "text": text, "logprob": logprob, "special": special},
           "generated_text": None, "details": None}  # fmt: skip
    return out | last


def recorded(*answers: tuple[int, Any]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content)

    return httpx.MockTransport(handler), seen


def tgi(transport: httpx.MockTransport, **kw: Any) -> TGIGenerator:
    return TGIGenerator("http://tgi:8080/generate", backoff=0.001, transport=transport, **kw)


EOS_STREAM = [
    _token(1, 470, "    return", -0.12),
    _token(2, 331, " a", -0.5),
    _token(3, 491, " +", -0.01),
    _token(4, 293, " b", -0.02),
    _token(5, 0, "<|endoftext|>", -0.3, special=True, generated_text="    return a + b",
           details={"finish_reason": "eos_token", "generated_tokens": 5, "seed": None, "input_length": 7}),
]  # fmt: skip


def test_tokens_ids_and_logprobs_reach_the_events() -> None:
    transport, seen = recorded((200, _sse(EOS_STREAM)))
    events = list(
        tgi(transport).stream("def add(a, b):\n", GenerationParams(temperature=0, max_new_tokens=20))
    )
    texts = [e for e in events if e.kind == "text"]
    assert [e.text for e in texts] == ["    return", " a", " +", " b"]  # the special token's text left out
    assert [e.token_id for e in texts] == [470, 331, 491, 293] and texts[0].logprob == pytest.approx(-0.12)
    finish = next(e for e in events if e.kind == "finish")
    assert finish.finish_reason == "stop" and finish.tokens == 5
    assert events[-1].usage is not None and events[-1].usage.as_dict() == {
        "prompt_tokens": 7,
        "completion_tokens": 5,
    }
    sent = json.loads(seen[0].content)
    assert str(seen[0].url) == "http://tgi:8080/generate_stream"
    assert sent == {"inputs": "def add(a, b):\n",
                    "parameters": {"max_new_tokens": 20, "details": True, "do_sample": False}}  # fmt: skip


def test_stop_sequences_are_cut_and_sampling_is_sent() -> None:
    stream = [_token(1, 470, "    return", -0.1), _token(2, 331, " a\n", -0.2),
              _token(3, 2, "\ndef", -0.3, generated_text="    return a\n\ndef",
                     details={"finish_reason": "stop_sequence", "generated_tokens": 3, "seed": 11,
                              "input_length": 7})]  # fmt: skip
    transport, seen = recorded((200, _sse(stream)), (200, _sse(stream)))
    params = GenerationParams(temperature=0.8, top_p=1.0, top_k=5, stop=("\ndef",), seed=11, num_responses=2)
    done = tgi(transport, api_key="hf_x").generate("def f(a):\n", params)
    assert [c.text for c in done.choices] == ["    return a\n", "    return a\n"]
    assert [c.finish_reason for c in done.choices] == ["stop", "stop"]
    assert done.usage.completion_tokens == 6 and done.usage.prompt_tokens == 7
    first, second = (json.loads(r.content)["parameters"] for r in seen)
    assert first == {"max_new_tokens": 512, "details": True, "do_sample": True, "temperature": 0.8,
                     "top_k": 5, "stop": ["\ndef"], "seed": 11}  # fmt: skip
    assert second["seed"] == 12 and seen[0].headers["authorization"] == "Bearer hf_x"


def test_tgi_errors_become_ours_and_overload_is_retried() -> None:
    too_long = {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 16384. "
                         "Given: 9000 `inputs` tokens and 9000 `max_new_tokens`",
                "error_type": "validation"}  # fmt: skip
    transport, _ = recorded((422, too_long))
    with pytest.raises(InvalidParameter) as err:
        tgi(transport).generate("x", GenerationParams(max_new_tokens=9000))
    assert err.value.param == "max_new_tokens" and "Given: 9000" in str(err.value)
    overloaded = {"error": "Model is overloaded", "error_type": "overloaded"}
    transport, seen = recorded((429, overloaded), (200, _sse(EOS_STREAM)))
    assert tgi(transport, retries=1).generate("x", GenerationParams()).choices[0].text == "    return a + b"
    assert len(seen) == 2
    transport, seen = recorded((503, overloaded))
    with pytest.raises(GeneratorUnavailable, match=r"Model is overloaded \(3 tries\)"):
        tgi(transport, retries=2).generate("x", GenerationParams())
    mid = _sse(EOS_STREAM[:2]) + b'data:{"error":"CUDA out of memory","error_type":"generation"}\n\n'
    transport, _ = recorded((200, mid))
    with pytest.raises(GeneratorUnavailable, match="failed while streaming: CUDA out of memory"):
        tgi(transport).generate("x", GenerationParams())
    transport, _ = recorded((200, b"data:[1, 2]\n\n"))
    with pytest.raises(GeneratorUnavailable, match="not an object"):
        tgi(transport).generate("x", GenerationParams())
    with pytest.raises(InvalidParameter, match="presence_penalty"):
        tgi(recorded((200, b""))[0]).generate("x", GenerationParams(presence_penalty=0.5))
    with pytest.raises(InvalidInput, match="not an http"):
        TGIGenerator("tgi:8080")


def test_protocol_detection() -> None:
    assert base_url("http://h:8080/generate_stream/") == "http://h:8080" == base_url("http://h:8080/info")
    transport, seen = recorded((200, TGI_INFO))
    assert detect_protocol("http://h:8080/", transport=transport) == "tgi"
    assert str(seen[0].url) == "http://h:8080/info"
    for answer in ((404, {"detail": "Not Found"}), (200, {"object": "list"}), (200, b"<html>")):
        assert detect_protocol("http://h:8000", transport=recorded(answer)[0]) == "openai"
    with pytest.raises(GeneratorUnavailable, match="cannot reach"):
        detect_protocol("http://127.0.0.1:9", timeout=2)
    backend = remote_backend("http://127.0.0.1:9", protocol="openai")  # told: nothing is asked
    assert isinstance(backend, RemoteGenerator)
    backend.close()
    with pytest.raises(InvalidParameter, match="remote_protocol"):
        remote_backend("http://h:1", protocol="grpc")
