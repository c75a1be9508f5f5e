"""The TGI backend: a Text Generation Inference server (``POST /generate_stream``, ``GET /info``), or
anything that speaks its protocol (whence's own TGI routes among them).

Every completion is one streamed request with ``details``, so each token arrives with its id,
log-probability and special flag (a special token's text, such as the end-of-text token, is not part of
the completion, as TGI's own ``generated_text``).  ``num_responses`` > 1 makes that many requests, the
``seed`` (when given) increased by one for each.  Fill-in-the-Middle prompts are built here with
StarCoder2's tokens.  TGI has no ``presence_penalty``: a non-zero one is refused, not dropped.  Stop
sequences are sent, and the output is cut before them here (TGI keeps them in its text).  Failures are
retried as :mod:`whence.generator.remote` does, and TGI's error bodies (``{"error", "error_type"}``)
become whence's errors.

:func:`remote_backend` picks this backend or the OpenAI-compatible one for ``--remote URL``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from whence.errors import GeneratorUnavailable, InvalidInput

from .base import (
    CONTEXT_TOKENS,
    SEED_MAX,
    GenerationParams,
    InvalidParameter,
    StopBuffer,
    StreamEvent,
    Usage,
    check_context,
    collect,
    fim_prompt,
)
from .remote import HTTPBackend, RemoteGenerator, server_message

PROTOCOLS = ("auto", "openai", "tgi")


def base_url(url: str) -> str:
    """The server's base URL from what a user may give: ``http://h:8080``, ``…/generate``,
    ``…/generate_stream`` or ``…/info``."""
    base = url.rstrip("/")
    for tail in ("/generate_stream", "/generate", "/info"):
        if base.endswith(tail):
            return base[: -len(tail)]
    return base


def detect_protocol(
    url: str, *, api_key: str | None = None, timeout: float = 10.0, transport: Any = None
) -> str:
    """``tgi`` when ``GET {url}/info`` answers TGI's model information (a ``model_id`` and a
    ``max_total_tokens``), else ``openai``.  A server that cannot be reached at all is
    :class:`GeneratorUnavailable`."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(timeout=timeout, headers=headers, transport=transport) as client:
            resp = client.get(base_url(url) + "/info")
    except httpx.HTTPError as exc:
        raise GeneratorUnavailable(f"cannot reach {url}: {exc}") from exc
    try:
        data = resp.json() if resp.status_code == 200 else None
    except ValueError:
        data = None
    return "tgi" if isinstance(data, dict) and "model_id" in data and "max_total_tokens" in data else "openai"


def remote_backend(
    url: str,
    *,
    protocol: str = "auto",
    model: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
    retries: int = 2,
) -> Any:
    """The backend for ``--remote URL``: :class:`TGIGenerator` for ``tgi``,
    :class:`~whence.generator.remote.RemoteGenerator` for ``openai``; ``auto`` asks the server
    (:func:`detect_protocol`)."""
    if protocol not in PROTOCOLS:
        raise InvalidParameter("remote_protocol", f"must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"remote: {url!r} is not an http(s) URL")
    if protocol == "auto":
        protocol = detect_protocol(url, api_key=api_key, timeout=min(timeout, 10.0))
    if protocol == "tgi":
        return TGIGenerator(url, api_key=api_key, timeout=timeout, retries=retries)
    return RemoteGenerator(url, model=model, api_key=api_key, timeout=timeout, retries=retries)


class TGIGenerator(HTTPBackend):
    """StarCoder2 behind a Text Generation Inference server.

    Args:
        url: the server (``http://localhost:8080``; a ``/generate`` or ``/generate_stream`` URL is cut
            to its base).
        api_key: sent as ``Authorization: Bearer …``.
        timeout: seconds to wait for the server to answer (or for the next streamed event).
        retries: further tries after a connection failure, a timeout, a 429 or a 5xx (before any event).
        transport: an ``httpx`` transport (for tests).

    Raises:
        GeneratorUnavailable: httpx missing; later, a server that cannot be reached or refuses.
    """

    backend = "TGI"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 0.5,
        transport: Any = None,
    ) -> None:
        super().__init__(
            url, api_key=api_key, timeout=timeout, retries=retries, backoff=backoff, transport=transport
        )
        self.base = base_url(url)
        self.url = self.base + "/generate_stream"
        self.name = url

    def __enter__(self) -> TGIGenerator:
        return self

    def body(
        self, prompt: str, params: GenerationParams, *, suffix: str | None, index: int = 0
    ) -> dict[str, Any]:
        """TGI's request for choice ``index`` of ``params``."""
        text = fim_prompt(prompt, suffix) if suffix is not None else prompt
        if not text:
            raise InvalidInput("prompt: empty (give some code to continue, or a --suffix for FIM)")
        check_context(0, params.max_new_tokens, CONTEXT_TOKENS)
        if params.presence_penalty:
            raise InvalidParameter("presence_penalty", "a TGI server has no presence_penalty (leave it at 0)")
        p: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "details": True}
        if params.greedy:
            p["do_sample"] = False
        else:
            p["do_sample"] = True
            p["temperature"] = params.temperature
            if params.top_p < 1.0:
                p["top_p"] = params.top_p  # TGI takes only (0, 1): 1 is "off", left out
        if params.top_k:
            p["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            p["repetition_penalty"] = params.repetition_penalty
        if params.frequency_penalty:
            p["frequency_penalty"] = params.frequency_penalty
        if params.stop:
            p["stop"] = list(params.stop)
        if params.seed is not None:
            p["seed"] = (params.seed + index) % (SEED_MAX + 1) if params.seed >= 0 else params.seed + index
        return {"inputs": text, "parameters": p}

    # -- requests ----------------------------------------------------------------------------------

    def _error(self, status: int, body: bytes) -> Exception:
        msg = server_message(body)
        if status in (400, 413, 415, 422):
            low = msg.lower()
            if "max_new_tokens" in low or ("token" in low and ("context" in low or "total" in low)):
                return InvalidParameter("max_new_tokens", f"the server refused: {msg}")
            return InvalidInput(f"the server refused the request (HTTP {status}): {msg}")
        if status in (401, 403):
            return GeneratorUnavailable(
                f"{self.url} refused the credentials (HTTP {status}: {msg}); "
                "pass --api-key or set WHENCE_API_KEY"
            )
        if status in (404, 405):
            return GeneratorUnavailable(
                f"{self.url}: HTTP {status} ({msg}); is it a TGI server? (--remote-protocol openai for "
                "an OpenAI-compatible one)"
            )
        return GeneratorUnavailable(f"{self.url} failed: HTTP {status}: {msg}")

    def generate(self, prompt: str, params: GenerationParams, *, suffix: str | None = None) -> Any:
        """``params.num_responses`` completions (see :class:`~whence.generator.base.CodeGenerator`)."""
        return collect(self.stream(prompt, params, suffix=suffix), self.name)

    def stream(
        self, prompt: str, params: GenerationParams, *, suffix: str | None = None
    ) -> Iterator[StreamEvent]:
        """The choices one after the other, each streamed token by token, then the usage."""
        bodies = [self.body(prompt, params, suffix=suffix, index=i) for i in range(params.num_responses)]
        return self._stream(bodies, params)

    def _stream(self, bodies: list[dict[str, Any]], params: GenerationParams) -> Iterator[StreamEvent]:
        prompt_tokens = 0
        completion_tokens = 0
        for index, body in enumerate(bodies):
            for ev in self._one(index, body, params):
                if ev.kind == "usage" and ev.usage is not None:
                    prompt_tokens = max(prompt_tokens, ev.usage.prompt_tokens)
                    completion_tokens += ev.usage.completion_tokens
                else:
                    yield ev
        yield StreamEvent("usage", usage=Usage(prompt_tokens, completion_tokens))

    def _one(self, index: int, body: dict[str, Any], params: GenerationParams) -> Iterator[StreamEvent]:
        resp = self._send(body)
        buf = StopBuffer(params.stop)
        text = ""
        tokens = 0
        reason: str | None = None
        input_length = 0
        try:
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    event = json.loads(payload)
                except ValueError as exc:
                    raise GeneratorUnavailable(
                        f"{self.url}: a streamed event is not JSON: {payload[:200]!r}"
                    ) from exc
                if not isinstance(event, dict):
                    raise GeneratorUnavailable(
                        f"{self.url}: a streamed event is not an object: {payload[:200]!r}"
                    )
                if event.get("error") is not None:
                    raise GeneratorUnavailable(
                        f"{self.url} failed while streaming: {server_message(payload.encode())}"
                    )
                token = event.get("token") or {}
                if not isinstance(token, dict):
                    raise GeneratorUnavailable(f"{self.url}: not a TGI stream event: {payload[:200]!r}")
                if token and not buf.done:
                    tokens += 1
                    if not token.get("special"):
                        text += str(token.get("text") or "")
                        out = buf.feed(text)
                        if out:
                            tid, lp = _int(token.get("id")), _float(token.get("logprob"))
                            yield StreamEvent("text", index, text=out, token_id=tid, logprob=lp)
                details = event.get("details")
                if isinstance(details, dict):
                    reason = str(details.get("finish_reason") or "")
                    tokens = int(details.get("generated_tokens") or tokens)
                    input_length = int(details.get("input_length") or 0)
                if event.get("generated_text") is not None:
                    break
        except self._httpx.TimeoutException as exc:
            raise GeneratorUnavailable(
                f"{self.url} stopped streaming (no data for {self.timeout:g}s)"
            ) from exc
        except self._httpx.TransportError as exc:
            raise GeneratorUnavailable(f"{self.url}: the stream broke off: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise GeneratorUnavailable(f"{self.url}: not a TGI stream ({type(exc).__name__}: {exc})") from exc
        finally:
            resp.close()
        rest = buf.flush()
        if rest:
            yield StreamEvent("text", index, text=rest)
        finish: Any
        if buf.done or reason in ("eos_token", "stop_sequence"):
            finish = "stop"
        elif reason == "content_filter":
            finish = "content_filter"
        else:
            finish = "length"
        yield StreamEvent("finish", index, finish_reason=finish, tokens=tokens)
        yield StreamEvent("usage", usage=Usage(input_length, tokens))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
