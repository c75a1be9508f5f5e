"""Generation: OpenAI-compatible ``POST /v1/completions``; every choice carries its ``attribution``.
The hosted StarCoder2 API's route is in ``hosted.py``, TGI's in ``tgi.py``; they share the public helpers
here (``Sampling``, ``sampling_field``, ``sampling_params``, ``generate``, ``account``, ``next_event``).

``/v1/completions`` takes what OpenAI's legacy completions take: a prompt or a list of prompts (each with
its ``n`` choices, numbered ``prompt * n + choice``), ``echo``, ``logprobs`` (OpenAI's object:
``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``), ``logit_bias`` and ``best_of``; its
errors are OpenAI's (``whence.api.http_errors.openai_error_body``)."""

from __future__ import annotations

import dataclasses
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
from whence.generator import Choice, Completion, GenerationParams, InvalidParameter, StreamEvent
from whence.generator.base import (
    BEST_OF,
    CONTEXT_TOKENS,
    LOGPROBS,
    MAX_LOGIT_BIAS_TOKENS,
    MAX_STOP_STRINGS,
    SAMPLING,
    SAMPLING_PARAMS,
    ParamSpec,
    TokenLogprob,
    Usage,
    check_logit_bias,
)

from ..deps import Service, api_key, service
from ..http_errors import ApiError, openai_error_body, status_of
from ..state import ApiKey

_UNAVAILABLE = {503: {"description": "No model configured, or the model/server could not answer."}}
router = APIRouter(tags=["generation"], responses=_UNAVAILABLE)  # type: ignore[arg-type]
# One generation at a time per server process: a local model is not safe to drive from two threads,
# and on CPU two at once would only share the same cores.
_GENERATE_LOCK = threading.Lock()


def sampling_field(name: str | ParamSpec, description: str | None = None) -> Any:
    """The request field of sampling parameter ``name``: its default, range and description from
    :data:`whence.generator.base.SAMPLING_PARAMS` (``description`` overrides the spec's)."""
    spec = SAMPLING[name] if isinstance(name, str) else name
    return Field(
        default=spec.default,
        gt=spec.min if spec.lo_open else None,
        ge=None if spec.lo_open else spec.min,
        le=spec.max,
        description=description or spec.description,
    )


class Sampling(BaseModel):
    temperature: float = sampling_field("temperature")
    top_p: float = sampling_field("top_p")
    top_k: int = sampling_field("top_k")
    repetition_penalty: float = sampling_field("repetition_penalty")
    presence_penalty: float = sampling_field("presence_penalty")
    frequency_penalty: float = sampling_field("frequency_penalty")
    stop: str | list[str] | None = Field(
        default=None, description=f"Up to {MAX_STOP_STRINGS} strings; output is cut before them."
    )
    seed: int | None = sampling_field("seed")
    stream: bool = Field(default=False, description="Server-sent events, with attribution events.")


#: Most prompts in one completions request (each is generated in turn).
MAX_PROMPTS = 16


class CompletionRequest(Sampling):
    """OpenAI's completions request (plus ``top_k`` and ``repetition_penalty``)."""

    model: str | None = Field(
        default=None,
        max_length=256,
        description="The served model's name (`GET /v1/models`; `WHENCE_SERVED_MODEL_NAME`); any other "
        "is a 404.",
    )
    prompt: str | list[str] | list[int] | list[list[int]] = Field(
        ...,
        description=f"The prompt, or a list of up to {MAX_PROMPTS} prompts (each gets its `n` choices, "
        "numbered prompt * n + choice); with `suffix`, the prefix of a Fill-in-the-Middle request. Token-id "
        "prompts are refused (400): send text.",
    )
    suffix: str | None = Field(default=None, description="Fill-in-the-Middle: the code after the gap.")
    max_tokens: int = sampling_field("max_new_tokens", f"New tokens (prompt + these <= {CONTEXT_TOKENS:,}).")
    n: int = sampling_field("num_responses", "Completions of each prompt.")
    echo: bool = Field(
        default=False,
        description="Return the prompt followed by the completion in `text` (and, with `logprobs`, the "
        "prompt's tokens too; the first has no log-probability). Attribution is of the completion.",
    )
    logprobs: int | None = sampling_field(LOGPROBS)
    logit_bias: dict[str, float] | None = Field(
        default=None,
        description=f"Token id (a string of digits) -> a bias in [-100, 100] added to its logit; at most "
        f"{MAX_LOGIT_BIAS_TOKENS} tokens. -100 in effect bans a token.",
    )
    best_of: int | None = sampling_field(BEST_OF)


#: Sampling parameters both request shapes name as GenerationParams does (the token count and the number
#: of completions they name each in their own way).
_SHARED = tuple(p.name for p in SAMPLING_PARAMS if p.name not in ("max_new_tokens", "num_responses"))


def sampling_params(body: Sampling, max_new_tokens: int, n: int) -> GenerationParams:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    shared = {name: getattr(body, name) for name in _SHARED}
    return GenerationParams(max_new_tokens=max_new_tokens, stop=tuple(stop), num_responses=n, **shared)


def account(svc: Service, key: ApiKey, completion: Completion) -> None:
    u = completion.usage
    cost = (u.prompt_tokens + u.completion_tokens) * svc.settings.price_per_million_tokens / 1e6
    svc.state.record(
        key.id, requests=0, prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens, cost=cost
    )
    svc.metrics.tokens.labels("prompt").inc(u.prompt_tokens)
    svc.metrics.tokens.labels("completion").inc(u.completion_tokens)
    svc.metrics.blocked.inc(sum(c.finish_reason == "content_filter" for c in completion.choices))


def generate(svc: Service, prompt: str, params: GenerationParams, suffix: str | None) -> Completion:
    gen = svc.generator()
    with _GENERATE_LOCK:
        result: Completion = gen.generate(prompt, params, suffix=suffix)
    return result


#: GenerationParams' names of the request fields that /v1/completions names its own way.
_OPENAI_NAMES = {"max_new_tokens": "max_tokens", "num_responses": "n"}


def _bad(param: str, message: str) -> ApiError:
    return ApiError(400, f"{param}: {message}", field=param)


def _openai_params(body: CompletionRequest) -> GenerationParams:
    """The request's parameters; a bad one is a 400 naming it as the request does."""
    try:
        params = sampling_params(body, body.max_tokens, body.n)
        return dataclasses.replace(
            params, logprobs=body.logprobs, logit_bias=check_logit_bias(body.logit_bias or {}),
            best_of=body.best_of,
        )  # fmt: skip
    except InvalidParameter as exc:
        raise _renamed(exc) from exc


def _renamed(exc: InvalidParameter) -> ApiError:
    name = _OPENAI_NAMES.get(exc.param, exc.param)
    message = str(exc).removeprefix(f"{exc.param}: ")
    return ApiError(400, f"{name}: {message}", field=name)


def _prompts(body: CompletionRequest) -> list[str]:
    """The request's prompts as text: one, or a list of up to :data:`MAX_PROMPTS`."""
    prompt = body.prompt
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise _bad("prompt", "an empty list: give a prompt or a list of prompts")
    if len(prompt) > MAX_PROMPTS:
        raise _bad("prompt", f"at most {MAX_PROMPTS} prompts per request, got {len(prompt)}")
    if not all(isinstance(p, str) for p in prompt):
        raise _bad("prompt", "token-id prompts are not supported: send the prompt as text")
    return [str(p) for p in prompt]


def _check_model(svc: Service, model: str | None) -> None:
    name = svc.settings.served_model_name
    if model is not None and model != name:
        raise ApiError(
            404, f"model: the model {model!r} does not exist; this server serves {name!r} (GET /v1/models)",
            field="model", code="model_not_found",
        )  # fmt: skip


def _logprobs_object(tokens: list[TokenLogprob], offset: int) -> dict[str, Any]:
    """OpenAI's legacy ``logprobs`` object of ``tokens``, whose text starts at character ``offset`` of
    the prompt and completion."""
    out: dict[str, Any] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for t in tokens:
        out["tokens"].append(t.text)
        out["token_logprobs"].append(t.logprob)
        out["top_logprobs"].append(t.top)
        out["text_offset"].append(offset)
        offset += len(t.text)
    return out


def _completion_tokens(choice: Choice) -> list[TokenLogprob]:
    """The choice's tokens that its text holds: those a stop string or the policy cut off are dropped."""
    out: list[TokenLogprob] = []
    at = 0
    for t in choice.logprobs or []:
        if at >= len(choice.text) and t.text:
            break
        out.append(t)
        at += len(t.text)
    return out


def _total(u: Usage) -> dict[str, int]:
    return u.as_dict() | {"total_tokens": u.prompt_tokens + u.completion_tokens}


@router.post(
    "/v1/completions",
    responses={400: {"description": "A bad parameter (OpenAI's error shape)."},
               404: {"description": "An unknown `model`."}},
)  # fmt: skip
def completions(
    body: CompletionRequest,
    svc: Service = Depends(service),  # noqa: B008
    key: ApiKey = Depends(api_key),  # noqa: B008
) -> Any:
    """OpenAI-compatible completions; each choice has an `attribution` (a search result).  With
    `stream`, server-sent events: text chunks, `attribution` chunks as soon as a match is certain,
    each choice's final chunk with `finish_reason` and its final attribution, a usage chunk, `[DONE]`.
    Errors are OpenAI's: `{"error": {"message", "type", "param", "code", "status"}}`, 400 for bad input."""
    _check_model(svc, body.model)
    prompts = _prompts(body)
    params = _openai_params(body)
    if body.echo and body.suffix is not None:
        raise _bad("echo", "cannot be used with suffix (the prompt is not one text)")
    if body.stream and params.best_of is not None and params.best_of > params.num_responses:
        raise _bad("best_of", "cannot be used with stream: completions are ranked once whole")
    cid = f"cmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        return _sse(svc, key, prompts, params, body, cid, created)
    gen = svc.generator()
    choices: list[dict[str, Any]] = []
    usage = Usage(0, 0)
    for p, prompt in enumerate(prompts):
        echoed = _echo(gen, prompt, body)
        try:
            completion = generate(svc, prompt, params, body.suffix)
        except InvalidParameter as exc:
            raise _renamed(exc) from exc
        account(svc, key, completion)
        usage = Usage(usage.prompt_tokens + completion.usage.prompt_tokens,
                      usage.completion_tokens + completion.usage.completion_tokens)  # fmt: skip
        for c in completion.choices:
            logprobs = None
            if params.logprobs is not None:
                start = 0 if body.echo else len(prompt)
                tokens = (echoed or []) + _completion_tokens(c)
                logprobs = _logprobs_object(tokens, start)
            choices.append({
                "index": p * params.num_responses + c.index,
                "text": (prompt if body.echo else "") + c.text,
                "finish_reason": c.finish_reason, "logprobs": logprobs, "attribution": c.attribution,
            })  # fmt: skip
    return JSONResponse({
        "id": cid, "object": "text_completion", "created": created, "model": svc.settings.served_model_name,
        "choices": choices, "usage": _total(usage),
    })  # fmt: skip


def _echo(gen: Any, prompt: str, body: CompletionRequest) -> list[TokenLogprob] | None:
    """The prompt's tokens with their log-probabilities, when ``echo`` and ``logprobs`` ask for them."""
    if not body.echo or body.logprobs is None:
        return None
    try:
        with _GENERATE_LOCK:
            result: list[TokenLogprob] = gen.prompt_logprobs(prompt, body.logprobs)
    except InvalidParameter as exc:
        raise _renamed(exc) from exc
    return result


def _sse(
    svc: Service,
    key: ApiKey,
    prompts: list[str],
    params: GenerationParams,
    body: CompletionRequest,
    cid: str,
    created: int,
) -> StreamingResponse:
    gen = svc.generator()
    n = params.num_responses
    model = svc.settings.served_model_name
    echoes = [_echo(gen, prompt, body) for prompt in prompts]

    def start(p: int) -> tuple[Iterator[StreamEvent], StreamEvent | None]:
        events = gen.stream(prompts[p], params, suffix=body.suffix)
        return events, next_event(events)

    # The first event comes before the response starts, so that a request the model refuses (a prompt
    # over the context) still gets a proper HTTP error instead of a broken stream.
    try:
        first = start(0)
    except InvalidParameter as exc:
        raise _renamed(exc) from exc

    def chunk(choice: dict[str, Any] | None = None, usage: dict[str, int] | None = None) -> str:
        out: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created, "model": model,
                               "choices": [choice] if choice else []}  # fmt: skip
        if usage is not None:
            out["usage"] = usage
        return f"data: {json.dumps(out)}\n\n"

    def body_() -> Iterator[str]:
        total = Usage(0, 0)
        try:
            for p, prompt in enumerate(prompts):
                events, ev = first if p == 0 else start(p)
                texts: dict[int, list[str]] = {}
                offsets = {i: 0 if body.echo else len(prompt) for i in range(n)}
                if body.echo:
                    for i in range(n):
                        echoed = echoes[p]
                        lp = _logprobs_object(echoed, 0) if echoed is not None else None
                        offsets[i] = len(prompt)
                        yield chunk(
                            {"index": p * n + i, "text": prompt, "finish_reason": None, "logprobs": lp}
                        )
                choices: list[StreamEvent] = []
                while ev is not None:
                    index = p * n + ev.index
                    if ev.kind == "text":
                        texts.setdefault(ev.index, []).append(ev.text)
                        lp = None
                        tok = ev.token_logprob() if params.logprobs is not None else None
                        if tok is not None:
                            lp = _logprobs_object([tok], offsets.get(ev.index, 0))
                            offsets[ev.index] = offsets.get(ev.index, 0) + len(tok.text)
                        if ev.text or lp is not None:
                            yield chunk(
                                {"index": index, "text": ev.text, "finish_reason": None, "logprobs": lp}
                            )
                    elif ev.kind == "attribution":
                        yield chunk({"index": index, "text": "", "finish_reason": None, "logprobs": None,
                                     "attribution": ev.attribution})  # fmt: skip
                    elif ev.kind == "finish":
                        choices.append(ev)
                        end = {
                            "index": index,
                            "text": "",
                            "finish_reason": ev.finish_reason,
                            "logprobs": None,
                        }
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
                        account(svc, key, done)
                        total = Usage(total.prompt_tokens + u.prompt_tokens,
                                      total.completion_tokens + u.completion_tokens)  # fmt: skip
                    ev = next_event(events)
            yield chunk(usage=_total(total))
        except InvalidParameter as exc:  # a later prompt refused: the error becomes the last event
            err = _renamed(exc)
            yield f"data: {json.dumps(openai_error_body(err.status, err.message, err.field))}\n\n"
        except WhenceError as exc:  # the response has started: the error becomes the last event
            yield f"data: {json.dumps(openai_error_body(status_of(exc), str(exc)))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body_(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def next_event(events: Iterator[StreamEvent]) -> StreamEvent | None:
    """The stream's next event, with the model held for that step only.  Holding it for the whole
    stream, from before the response to the end of its body, leaked it when a client went away before
    the first byte (the body never ran, so neither did its release): every later generation then
    waited forever (schemathesis found it).  Streams now take turns step by step."""
    with _GENERATE_LOCK:
        return next(events, None)
