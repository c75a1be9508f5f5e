"""The hosted StarCoder2 API's route, ``POST /v1/inference/bigcode/starcoder2-15b``: its request and
answer shapes, its server-sent event stream, its ``webhook``, and a ``request_id`` in every answer.

The request model forbids unknown fields (one 422 names them all) and the route takes JSON only (415
otherwise): see :mod:`whence.api.routes.strict`.  Generation, accounting and the model's turn-taking
are those of ``/v1/completions`` (``completions.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from whence.errors import WhenceError
from whence.generator import Choice, Completion, GenerationParams, StreamEvent, Usage

from ..deps import Service, api_key, service
from ..http_errors import ApiError, error_body, status_of
from ..state import ApiKey
from .completions import Sampling, account, generate, next_event, sampling_field, sampling_params
from .strict import HostedRoute

PATH = "/v1/inference/bigcode/starcoder2-15b"
#: A streamed answer: server-sent events, each one's data a JSON object.
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string", "description": "One event: a JSON object (see the route)."}},
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The results; with `stream`, server-sent events (`text/event-stream`); with "
        '`webhook`, `{"status": "queued", "request_id"}`.',
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    },
    415: {"description": "The body is not JSON."},
    503: {
        "description": "No model configured, the model/server could not answer, or the webhook queue is full."
    },
}
router = APIRouter(tags=["generation"], route_class=HostedRoute)


class ResponseFormat(BaseModel):
    """What the completions are: plain text (code) is the one format StarCoder2 writes here."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"] = Field(
        default="text", description="`text` only: JSON mode (`json_object`) is not supported (refused)."
    )


class InferenceRequest(Sampling):
    """The hosted StarCoder2 API's request.  A field it does not know is refused (422 naming it)."""

    model_config = ConfigDict(extra="forbid")
    input: str = Field(..., description="The prompt.")
    suffix: str | None = Field(default=None, description="Fill-in-the-Middle: the code after the gap.")
    max_new_tokens: int = sampling_field("max_new_tokens")
    num_responses: int = sampling_field("num_responses", "Completions of the prompt (1 when streaming).")
    webhook: str | None = Field(
        default=None,
        description='Answer `{"status": "queued", "request_id"}` at once and POST the result to this URL '
        "(its host must be allowed by the server's WHENCE_WEBHOOK_HOSTS).",
    )
    response_format: ResponseFormat | None = Field(default=None, description='`{"type": "text"}` or absent.')


@router.post(PATH, responses=_RESPONSES)
def inference(
    body: InferenceRequest,
    request: Request,
    svc: Service = Depends(service),  # noqa: B008
    key: ApiKey = Depends(api_key),  # noqa: B008
) -> Response:
    """The hosted StarCoder2 API's shape: `results[].generated_text`, token counts, an
    `inference_status` (runtime, tokens, cost at `WHENCE_PRICE_PER_MILLION_TOKENS`) and a `request_id`.
    With `stream`, server-sent events `{"token": {"id", "text", "logprob", "special"}, "generated_text",
    "details"}` (`generated_text` and `details` null until the last), and `attribution` events.  With
    `webhook`, `{"status": "queued", "request_id"}` at once and the result POSTed to the URL later."""
    rid: str = request.state.request_id
    params = sampling_params(body, body.max_new_tokens, body.num_responses)
    if body.stream and body.num_responses > 1:
        raise ApiError(422, "num_responses: must be 1 when streaming", field="num_responses")
    if body.stream and body.webhook is not None:
        raise ApiError(422, "webhook: a request either streams or has a webhook, not both", field="webhook")
    if body.webhook is not None:
        target = svc.webhooks.check(body.webhook)
        svc.generator()  # no model: 503 now, not a failure delivered later
        svc.webhooks.submit(rid, target, lambda: _job(svc, key, body, params, rid))
        return JSONResponse({"status": "queued", "request_id": rid})
    if body.stream:
        return _stream(svc, key, body, params, rid)
    return JSONResponse(_run(svc, key, body, params, rid))


def _run(
    svc: Service, key: ApiKey, body: InferenceRequest, params: GenerationParams, rid: str
) -> dict[str, Any]:
    """Generate and answer in the hosted API's shape (also what a webhook receives)."""
    t0 = time.perf_counter()
    completion = generate(svc, body.input, params, body.suffix)
    runtime_ms = int((time.perf_counter() - t0) * 1000)
    account(svc, key, completion)
    u = completion.usage
    return {
        "request_id": rid,
        "results": [
            {"generated_text": c.text, "num_tokens": c.tokens, "num_input_tokens": u.prompt_tokens,
             "finish_reason": c.finish_reason, "attribution": c.attribution}
            for c in completion.choices
        ],
        "num_tokens": u.completion_tokens,
        "num_input_tokens": u.prompt_tokens,
        "inference_status": _status("succeeded", svc, u, runtime_ms),
    }  # fmt: skip


def _status(status: str, svc: Service, u: Usage, runtime_ms: int) -> dict[str, Any]:
    cost = (u.prompt_tokens + u.completion_tokens) * svc.settings.price_per_million_tokens / 1e6
    return {"status": status, "runtime_ms": runtime_ms, "cost": round(cost, 10),
            "tokens_generated": u.completion_tokens, "tokens_input": u.prompt_tokens}  # fmt: skip


def _job(
    svc: Service, key: ApiKey, body: InferenceRequest, params: GenerationParams, rid: str
) -> dict[str, Any]:
    """A webhook's generation: the result, or the error as the body would have had it, marked failed."""
    t0 = time.perf_counter()
    try:
        return _run(svc, key, body, params, rid)
    except (ApiError, WhenceError) as exc:
        status = exc.status if isinstance(exc, ApiError) else status_of(exc)
        message = exc.message if isinstance(exc, ApiError) else str(exc)
        runtime_ms = int((time.perf_counter() - t0) * 1000)
        return {
            "request_id": rid,
            "inference_status": _status("failed", svc, Usage(0, 0), runtime_ms),
        } | error_body(status, message, getattr(exc, "field", None) or getattr(exc, "param", None))


def token_of(ev: StreamEvent | None) -> dict[str, Any]:
    """A text event as the hosted API's (and TGI's) token: ``id`` and ``logprob`` null where the backend
    does not report them; no event (nothing was generated) is an empty token."""
    if ev is None:
        return {"id": None, "text": "", "logprob": None, "special": False}
    return {"id": ev.token_id, "text": ev.text, "logprob": ev.logprob, "special": ev.special}


def _stream(
    svc: Service, key: ApiKey, body: InferenceRequest, params: GenerationParams, rid: str
) -> StreamingResponse:
    gen = svc.generator()
    events = gen.stream(body.input, params, suffix=body.suffix)
    # The first event comes before the response starts, so that a request the model refuses (a prompt
    # over the context) still gets a proper HTTP error instead of a broken stream.
    first = next_event(events)

    def frame(data: dict[str, Any]) -> str:
        return f"data: {json.dumps({'request_id': rid} | data)}\n\n"

    def frames() -> Iterator[str]:
        # The last token is held back: it goes out with `generated_text` and `details`, as the hosted
        # API (and TGI) send the end of a stream; the finish waits for the usage (the prompt's tokens).
        held: StreamEvent | None = None
        text: list[str] = []
        finish: StreamEvent | None = None
        usage = Usage(0, 0)
        try:
            ev = first
            while ev is not None:
                if ev.kind == "text" and ev.text:
                    if held is not None:
                        yield frame({"token": token_of(held), "generated_text": None, "details": None})
                    held = ev
                    text.append(ev.text)
                elif ev.kind == "attribution":
                    yield frame({"token": None, "generated_text": None, "details": None,
                                 "attribution": ev.attribution})  # fmt: skip
                elif ev.kind == "finish":
                    finish = ev
                elif ev.kind == "usage" and ev.usage is not None:
                    usage = ev.usage
                ev = next_event(events)
        except WhenceError as exc:  # the response has started: the error becomes the last event
            yield frame(error_body(status_of(exc), str(exc)))
            return
        reason = finish.finish_reason if finish is not None else "stop"
        tokens = finish.tokens if finish is not None else 0
        account(svc, key, Completion([Choice(0, "".join(text), reason or "stop", tokens)], usage))
        attribution = finish.attribution if finish is not None else None
        details = {"finish_reason": reason, "generated_tokens": tokens, "input_tokens": usage.prompt_tokens,
                   "seed": params.seed, "attribution": attribution}  # fmt: skip
        yield frame({"token": token_of(held), "generated_text": "".join(text), "details": details})

    return StreamingResponse(frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
