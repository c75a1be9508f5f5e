"""Generation: OpenAI-compatible ``POST /v1/completions``; every choice carries its ``attribution``.
The hosted StarCoder2 API's route is in ``hosted.py``, TGI's in ``tgi.py``; they share the helpers here."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from whence.errors import WhenceError
from whence.generator import Choice, Completion, GenerationParams, StreamEvent
from whence.generator.base import CONTEXT_TOKENS, MAX_STOP_STRINGS, SAMPLING, SAMPLING_PARAMS

from ..deps import Service, api_key, service
from ..http_errors import error_body, status_of
from ..state import ApiKey

_UNAVAILABLE = {503: {"description": "No model configured, or the model/server could not answer."}}
router = APIRouter(tags=["generation"], responses=_UNAVAILABLE)  # type: ignore[arg-type]
# One generation at a time per server process: a local model is not safe to drive from two threads,
# and on CPU two at once would only share the same cores.
_GENERATE_LOCK = threading.Lock()


def _field(name: str, description: str | None = None) -> Any:
    """The request field of sampling parameter ``name``: its default, range and description from
    :data:`whence.generator.base.SAMPLING_PARAMS` (``description`` overrides the spec's)."""
    spec = SAMPLING[name]
    return Field(
        default=spec.default,
        gt=spec.min if spec.lo_open else None,
        ge=None if spec.lo_open else spec.min,
        le=spec.max,
        description=description or spec.description,
    )


class _Sampling(BaseModel):
    temperature: float = _field("temperature")
    top_p: float = _field("top_p")
    top_k: int = _field("top_k")
    repetition_penalty: float = _field("repetition_penalty")
    presence_penalty: float = _field("presence_penalty")
    frequency_penalty: float = _field("frequency_penalty")
    stop: str | list[str] | None = Field(
        default=None, description=f"Up to {MAX_STOP_STRINGS} strings; output is cut before them."
    )
    seed: int | None = _field("seed")
    stream: bool = Field(default=False, description="Server-sent events, with attribution events.")


class CompletionRequest(_Sampling):
    """OpenAI's completions request (plus ``top_k`` and ``repetition_penalty``)."""

    model: str | None = Field(default=None, description="Ignored: the server's model answers.")
    prompt: str = Field(
        ..., description="The prompt; with `suffix`, the prefix of a Fill-in-the-Middle request."
    )
    suffix: str | None = Field(default=None, description="Fill-in-the-Middle: the code after the gap.")
    max_tokens: int = _field("max_new_tokens", f"New tokens (prompt + these <= {CONTEXT_TOKENS:,}).")
    n: int = _field("num_responses", "Completions of the prompt.")


#: Sampling parameters both request shapes name as GenerationParams does (the token count and the number
#: of completions they name each in their own way).
_SHARED = tuple(p.name for p in SAMPLING_PARAMS if p.name not in ("max_new_tokens", "num_responses"))


def _params(body: _Sampling, max_new_tokens: int, n: int) -> GenerationParams:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    shared = {name: getattr(body, name) for name in _SHARED}
    return GenerationParams(max_new_tokens=max_new_tokens, stop=tuple(stop), num_responses=n, **shared)


def _account(svc: Service, key: ApiKey, completion: Completion) -> None:
    u = completion.usage
    cost = (u.prompt_tokens + u.completion_tokens) * svc.settings.price_per_million_tokens / 1e6
    svc.state.record(
        key.id, requests=0, prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens, cost=cost
    )
    svc.metrics.tokens.labels("prompt").inc(u.prompt_tokens)
    svc.metrics.tokens.labels("completion").inc(u.completion_tokens)
    svc.metrics.blocked.inc(sum(c.finish_reason == "content_filter" for c in completion.choices))


def _generate(svc: Service, prompt: str, params: GenerationParams, suffix: str | None) -> Completion:
    gen = svc.generator()
    with _GENERATE_LOCK:
        result: Completion = gen.generate(prompt, params, suffix=suffix)
    return result


@router.post("/v1/completions")
def completions(
    body: CompletionRequest,
    svc: Service = Depends(service),  # noqa: B008
    key: ApiKey = Depends(api_key),  # noqa: B008
) -> Any:
    """OpenAI-compatible completions; each choice has an `attribution` (a search result).  With
    `stream`, server-sent events: text chunks, `attribution` chunks as soon as a match is certain,
    each choice's final chunk with `finish_reason` and its final attribution, a usage chunk, `[DONE]`."""
    params = _params(body, body.max_tokens, body.n)
    cid = f"cmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        return _sse(svc, key, body.prompt, params, body.suffix, cid, created)
    completion = _generate(svc, body.prompt, params, body.suffix)
    _account(svc, key, completion)
    u = completion.usage
    return JSONResponse({
        "id": cid, "object": "text_completion", "created": created, "model": completion.model,
        "choices": [
            {"index": c.index, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None,
             "attribution": c.attribution}
            for c in completion.choices
        ],
        "usage": u.as_dict() | {"total_tokens": u.prompt_tokens + u.completion_tokens},
    })  # fmt: skip


def _sse(
    svc: Service,
    key: ApiKey,
    prompt: str,
    params: GenerationParams,
    suffix: str | None,
    cid: str,
    created: int,
) -> StreamingResponse:
    gen = svc.generator()
    events = gen.stream(prompt, params, suffix=suffix)
    # The first event comes before the response starts, so that a request the model refuses (a prompt
    # over the context) still gets a proper HTTP error instead of a broken stream.
    first: StreamEvent | None = _step(events)
    model = getattr(gen, "name", "")

    def chunk(choice: dict[str, Any] | None = None, usage: dict[str, int] | None = None) -> str:
        out: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created, "model": model,
                               "choices": [choice] if choice else []}  # fmt: skip
        if usage is not None:
            out["usage"] = usage
        return f"data: {json.dumps(out)}\n\n"

    def body() -> Iterator[str]:
        texts: dict[int, list[str]] = {}
        choices: list[Any] = []
        try:
            ev = first
            while ev is not None:
                if ev.kind == "text":
                    texts.setdefault(ev.index, []).append(ev.text)
                    yield chunk({"index": ev.index, "text": ev.text, "finish_reason": None, "logprobs": None})
                elif ev.kind == "attribution":
                    yield chunk({"index": ev.index, "text": "", "finish_reason": None, "logprobs": None,
                                 "attribution": ev.attribution})  # fmt: skip
                elif ev.kind == "finish":
                    choices.append(ev)
                    end = {"index": ev.index, "text": "", "finish_reason": ev.finish_reason, "logprobs": None}
                    yield chunk(end | {"attribution": ev.attribution})
                elif ev.kind == "usage" and ev.usage is not None:
                    u = ev.usage
                    done = Completion(
                        [
                            Choice(c.index, "".join(texts.get(c.index, [])), c.finish_reason or "stop")
                            for c in choices
                        ],
                        u,
                    )
                    _account(svc, key, done)
                    yield chunk(usage=u.as_dict() | {"total_tokens": u.prompt_tokens + u.completion_tokens})
                ev = _step(events)
        except WhenceError as exc:  # the response has started: the error becomes the last event
            yield f"data: {json.dumps(error_body(status_of(exc), str(exc)))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _step(events: Iterator[StreamEvent]) -> StreamEvent | None:
    """The stream's next event, with the model held for that step only.  Holding it for the whole
    stream, from before the response to the end of its body, leaked it when a client went away before
    the first byte (the body never ran, so neither did its release): every later generation then
    waited forever (schemathesis found it).  Streams now take turns step by step."""
    with _GENERATE_LOCK:
        return next(events, None)
