"""Text Generation Inference's routes, so that TGI's clients (``huggingface_hub.InferenceClient``,
``text-generation``, LangChain's TGI wrappers) work against whence unchanged: ``POST /generate``,
``POST /generate_stream``, ``POST /`` (TGI's compatibility route: either, by ``stream``) and
``GET /info``.

Requests are TGI's ``{"inputs", "parameters"}``; answers are TGI's shapes, with whence's attribution
inside ``details`` (``details.attribution``), or beside ``generated_text`` when no details were asked
for.  A TGI parameter whence cannot honour (``best_of`` > 1, ``truncate``, ``typical_p``, ``grammar``,
``watermark``, ``top_n_tokens``, ``decoder_input_details``, ``adapter_id``) is refused with 422 naming
it, never ignored; errors read as TGI's (``{"error", "error_type"}``, see ``strict.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from whence import __version__
from whence.errors import WhenceError
from whence.generator import Choice, Completion, GenerationParams, InvalidParameter, StreamEvent, Usage
from whence.generator.base import CONTEXT_TOKENS, MAX_STOP_STRINGS

from ..deps import Service, api_key, service
from ..http_errors import ApiError, status_of, tgi_error_body
from ..state import ApiKey
from .completions import account, next_event
from .hosted import SSE_EVENT, token_of
from .strict import TGIRoute

#: TGI's default for ``max_new_tokens``.
DEFAULT_NEW_TOKENS = 100
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "TGI's answer; from /generate_stream (and / with `stream`), server-sent events.",
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    },
    415: {"description": "The body is not JSON."},
    503: {"description": "No model configured, or the model/server could not answer."},
}
router = APIRouter(tags=["tgi"], route_class=TGIRoute)


class TGIParameters(BaseModel):
    """TGI's ``parameters``, every one it defines: those whence cannot honour are refused when set."""

    model_config = ConfigDict(extra="forbid")
    best_of: int | None = Field(default=None, description="1 or absent (more is refused).")
    decoder_input_details: bool = Field(default=False, description="false only (the prompt's tokens).")
    details: bool = Field(default=False, description="Return `details`: tokens, finish, attribution.")
    do_sample: bool = Field(default=False, description="Sample; else greedy unless a sampler is set.")
    frequency_penalty: float | None = None
    grammar: dict[str, Any] | None = Field(default=None, description="Absent only (refused).")
    max_new_tokens: int | None = Field(default=None, description=f"Default {DEFAULT_NEW_TOKENS}.")
    repetition_penalty: float | None = None
    return_full_text: bool | None = Field(default=False, description="Prepend the inputs.")
    seed: int | None = None
    stop: list[str] = Field(default_factory=list, description=f"Up to {MAX_STOP_STRINGS} stop sequences.")
    temperature: float | None = None
    top_k: int | None = None
    top_n_tokens: int | None = Field(default=None, description="0 or absent (more is refused).")
    top_p: float | None = None
    truncate: int | None = Field(default=None, description="Absent only (refused).")
    typical_p: float | None = Field(default=None, description="Absent only (refused).")
    watermark: bool = Field(default=False, description="false only (refused).")
    adapter_id: str | None = Field(default=None, description="Absent only (refused).")


class GenerateRequest(BaseModel):
    """TGI's request of ``/generate`` and ``/generate_stream``."""

    model_config = ConfigDict(extra="forbid")
    inputs: str = Field(..., description="The prompt.")
    parameters: TGIParameters = Field(default_factory=TGIParameters)


class CompatRequest(GenerateRequest):
    """TGI's request of ``POST /``: ``stream`` picks /generate_stream."""

    stream: bool = False


#: TGI parameters whence does not implement, and the value that means "not used".
_UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "best_of": (None, 1),
    "decoder_input_details": (False,),
    "grammar": (None,),
    "top_n_tokens": (None, 0),
    "truncate": (None,),
    "typical_p": (None,),
    "watermark": (False,),
    "adapter_id": (None,),
}


def tgi_params(p: TGIParameters) -> GenerationParams:
    """TGI's parameters as whence's: greedy unless ``do_sample`` or a sampler (``temperature`` other
    than 1, ``top_k``, ``top_p`` below 1) is set, as TGI decides.  422 naming ``parameters.NAME`` for a
    value out of range or a parameter whence does not implement."""
    for name, unused in _UNSUPPORTED.items():
        if getattr(p, name) not in unused:
            raise ApiError(
                422,
                f"parameters.{name}: not supported by this server (leave it out)",
                field=f"parameters.{name}",
            )
    sampling = (
        p.do_sample
        or (p.temperature is not None and p.temperature != 1.0)
        or bool(p.top_k)
        or (p.top_p is not None and p.top_p < 1.0)
    )
    temperature = (1.0 if p.temperature is None else p.temperature) if sampling else 0.0
    try:
        return GenerationParams(
            max_new_tokens=DEFAULT_NEW_TOKENS if p.max_new_tokens is None else p.max_new_tokens,
            temperature=temperature,
            top_p=1.0 if p.top_p is None else p.top_p,
            top_k=p.top_k or 0,
            repetition_penalty=1.0 if p.repetition_penalty is None else p.repetition_penalty,
            frequency_penalty=p.frequency_penalty or 0.0,
            stop=tuple(p.stop),
            seed=p.seed,
        )
    except InvalidParameter as exc:
        raise ApiError(422, f"parameters.{exc}", field=f"parameters.{exc.param}") from None


def tgi_finish(reason: str | None, params: GenerationParams) -> str:
    """whence's finish reason as TGI's: ``length``; ``stop`` is ``stop_sequence`` when stop sequences
    were given (else ``eos_token``); a completion the policy withheld stays ``content_filter``."""
    if reason == "length":
        return "length"
    if reason == "content_filter":
        return "content_filter"
    return "stop_sequence" if params.stop else "eos_token"


@router.get("/info", responses={503: _RESPONSES[503]})
def info(svc: Service = Depends(service)) -> dict[str, Any]:  # noqa: B008
    """TGI's model information (no API key, as TGI): what `--remote-protocol auto` and TGI's clients
    read.  `model_id` is the hub id, a model folder's name (not its path), or the remote's model name
    (never its URL).  503 when the server has no model configured."""
    s = svc.settings
    if s.model:
        model = Path(s.model).name if Path(s.model).exists() else s.model
    elif s.remote:
        model = s.remote_model or "remote"
    else:
        raise ApiError(503, "no model configured: start the server with --model ID_OR_PATH or --remote URL")
    return {
        "model_id": model, "model_sha": None, "model_pipeline_tag": "text-generation",
        "model_dtype": None, "model_device_type": None,
        "max_concurrent_requests": 1, "max_best_of": 1, "max_stop_sequences": MAX_STOP_STRINGS,
        "max_input_tokens": CONTEXT_TOKENS - 1, "max_total_tokens": CONTEXT_TOKENS,
        "validation_workers": 1, "max_client_batch_size": 1,
        "router": "whence", "version": __version__, "sha": None, "docker_label": None,
    }  # fmt: skip


@router.post("/generate", responses=_RESPONSES)
def generate(
    body: GenerateRequest,
    svc: Service = Depends(service),  # noqa: B008
    key: ApiKey = Depends(api_key),  # noqa: B008
) -> Response:
    """TGI's `/generate`: `{"generated_text"}`, with `details` (`finish_reason`, `generated_tokens`,
    `seed`, `prefill`, `tokens`, `attribution`) when `parameters.details`; else `attribution` beside
    `generated_text`."""
    return JSONResponse(_generate(svc, key, body))


@router.post("/generate_stream", responses=_RESPONSES)
def generate_stream(
    body: GenerateRequest,
    svc: Service = Depends(service),  # noqa: B008
    key: ApiKey = Depends(api_key),  # noqa: B008
) -> Response:
    """TGI's `/generate_stream`: server-sent events `{"index", "token", "generated_text", "details"}`,
    the last with `generated_text` and (when asked) `details` with `attribution`; an `attribution` key
    on the event after a match became certain."""
    return _stream(svc, key, body)


@router.post("/", responses=_RESPONSES)
def compat(
    body: CompatRequest,
    svc: Service = Depends(service),  # noqa: B008
    key: ApiKey = Depends(api_key),  # noqa: B008
) -> Response:
    """TGI's compatibility route (where `InferenceClient(base_url=…)` posts): `/generate_stream` with
    `stream`, else `/generate`'s answer in a list of one."""
    if body.stream:
        return _stream(svc, key, body)
    return JSONResponse([_generate(svc, key, body)])


def _events(svc: Service, body: GenerateRequest, params: GenerationParams) -> Iterator[StreamEvent]:
    events = svc.generator().stream(body.inputs, params)
    while (ev := next_event(events)) is not None:
        yield ev


def _account_text(svc: Service, key: ApiKey, text: str, finish: StreamEvent | None, usage: Usage) -> None:
    reason = (finish.finish_reason if finish is not None else None) or "stop"
    tokens = finish.tokens if finish is not None else 0
    account(svc, key, Completion([Choice(0, text, reason, tokens)], usage))


def _generate(svc: Service, key: ApiKey, body: GenerateRequest) -> dict[str, Any]:
    params = tgi_params(body.parameters)
    tokens: list[StreamEvent] = []
    finish: StreamEvent | None = None
    usage = Usage(0, 0)
    for ev in _events(svc, body, params):
        if ev.kind == "text" and ev.text:
            tokens.append(ev)
        elif ev.kind == "finish":
            finish = ev
        elif ev.kind == "usage" and ev.usage is not None:
            usage = ev.usage
    text = "".join(ev.text for ev in tokens)
    _account_text(svc, key, text, finish, usage)
    attribution = finish.attribution if finish is not None else None
    out: dict[str, Any] = {"generated_text": body.inputs + text if body.parameters.return_full_text else text}
    if body.parameters.details:
        out["details"] = {
            "finish_reason": tgi_finish(finish.finish_reason if finish else None, params),
            "generated_tokens": finish.tokens if finish is not None else 0,
            "seed": params.seed,
            "prefill": [],
            "tokens": [token_of(ev) for ev in tokens],
            "attribution": attribution,
        }
    else:
        out["attribution"] = attribution
    return out


def _stream(svc: Service, key: ApiKey, body: GenerateRequest) -> StreamingResponse:
    params = tgi_params(body.parameters)
    events = _events(svc, body, params)
    # The first event comes before the response starts: a request the model refuses still gets its 422.
    first = next(events, None)

    def frames() -> Iterator[str]:
        held: StreamEvent | None = None
        pending: dict[str, Any] | None = None  # an attribution found since the last event sent
        text: list[str] = []
        finish: StreamEvent | None = None
        usage = Usage(0, 0)
        n = 0

        def frame(ev: StreamEvent | None, last: dict[str, Any] | None = None) -> str:
            nonlocal pending, n
            n += 1
            out: dict[str, Any] = {"index": n, "token": token_of(ev), "generated_text": None, "details": None}
            if pending is not None:
                out["attribution"], pending = pending, None
            return f"data: {json.dumps(out | (last or {}))}\n\n"

        try:
            ev = first
            while ev is not None:
                if ev.kind == "text" and ev.text:
                    if held is not None:
                        yield frame(held)
                    held = ev
                    text.append(ev.text)
                elif ev.kind == "attribution":
                    pending = ev.attribution
                elif ev.kind == "finish":
                    finish = ev
                elif ev.kind == "usage" and ev.usage is not None:
                    usage = ev.usage
                ev = next(events, None)
        except WhenceError as exc:  # the response has started: TGI's error event ends it
            err = tgi_error_body(status_of(exc), str(exc)) | {"error_type": "generation"}
            yield f"data: {json.dumps(err)}\n\n"
            return
        whole = "".join(text)
        _account_text(svc, key, whole, finish, usage)
        attribution = finish.attribution if finish is not None else None
        full = body.parameters.return_full_text
        last: dict[str, Any] = {"generated_text": body.inputs + whole if full else whole}
        if body.parameters.details:
            last["details"] = {
                "finish_reason": tgi_finish(finish.finish_reason if finish else None, params),
                "generated_tokens": finish.tokens if finish is not None else 0,
                "seed": params.seed,
                "input_length": usage.prompt_tokens,
                "attribution": attribution,
            }
        else:
            last["attribution"] = attribution
        yield frame(held, last)

    return StreamingResponse(frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
