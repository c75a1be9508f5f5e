"""The remote backend: any OpenAI-compatible ``/v1/completions`` server (vLLM, TGI, a hosted API).

Fill-in-the-Middle prompts are built here, with StarCoder2's tokens, rather than sent as ``suffix``:
vLLM and TGI do not take a ``suffix``.  ``top_k`` and ``repetition_penalty`` are sent as the
extensions vLLM and TGI read, and only when they are not "off".  Connection failures, timeouts, 429 and
5xx answers are retried with exponential back-off (``Retry-After`` honoured, capped); what the server
still refuses is turned into whence's errors with the server's own message.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from whence.errors import GeneratorUnavailable, InvalidInput

from .base import (
    CONTEXT_TOKENS,
    GenerationParams,
    InvalidParameter,
    StopBuffer,
    StreamEvent,
    TokenLogprob,
    Usage,
    check_context,
    collect,
    fim_prompt,
)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 30.0


def _import_httpx(backend: str) -> Any:
    try:
        import httpx
    except ImportError as exc:
        raise GeneratorUnavailable(
            f"the {backend} backend needs httpx: pip install 'whence[generate]'"
        ) from exc
    return httpx


def completions_url(url: str) -> str:
    """The completions endpoint for a server URL: ``http://host:8000`` (``/v1/completions`` is added), a
    base that has its API version in it already (``…/v1``, ``…/v1/openai``: ``/completions`` is added),
    or the full ``…/completions`` URL."""
    base = url.rstrip("/")
    if base.endswith("/completions"):
        return base
    path = urlsplit(base).path
    if "v1" in path.split("/"):
        return base + "/completions"
    return base + "/v1/completions"


def server_message(body: bytes) -> str:
    """The error message in an OpenAI (``{"error": {"message"}}``), vLLM (``{"message"}``) or TGI
    (``{"error": "…"}``) error body; else the body's start."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if data.get("message"):
            return str(data["message"])
        if data.get("detail"):
            return str(data["detail"])
    return json.dumps(data)[:300]


class HTTPBackend(ABC):
    """What the remote backends share: the URL and retry checks, one ``httpx`` connection pool with the
    bearer token, and :meth:`_send`, which POSTs to :attr:`url` with retries and back-off.  A subclass
    sets :attr:`url` and says what an HTTP error means (:meth:`_error`)."""

    #: Names the backend in the message when httpx is missing.
    backend = "remote"
    url: str

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        transport: Any,
    ) -> None:
        httpx = _import_httpx(self.backend)
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"remote: {url!r} is not an http(s) URL")
        if retries < 0:
            raise InvalidInput(f"retries: must be >= 0, got {retries}")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._httpx = httpx
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers, transport=transport
        )

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt)
        if retry_after:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                delay = self.backoff * (2**attempt)  # an HTTP date: keep our own back-off
        time.sleep(min(delay, MAX_BACKOFF_S))

    def _send(self, body: dict[str, Any]) -> Any:
        """POST ``body``; the open response (streamed) once the server answered 200."""
        httpx = self._httpx
        last = ""
        for attempt in range(self.retries + 1):
            try:
                req = self._client.build_request("POST", self.url, json=body)
                resp = self._client.send(req, stream=True)
            except httpx.TimeoutException:
                last = f"no answer from {self.url} within {self.timeout:g}s"
            except httpx.TransportError as exc:
                last = f"cannot reach {self.url}: {exc}"
            else:
                if resp.status_code == 200:
                    return resp
                content = resp.read()
                resp.close()
                if resp.status_code not in RETRY_STATUSES:
                    raise self._error(resp.status_code, content)
                last = str(self._error(resp.status_code, content))
                if attempt < self.retries:
                    self._wait(attempt, resp.headers.get("retry-after"))
                continue
            if attempt < self.retries:
                self._wait(attempt, None)
        tries = self.retries + 1
        raise GeneratorUnavailable(f"{last} ({tries} {'try' if tries == 1 else 'tries'})")

    @abstractmethod
    def _error(self, status: int, body: bytes) -> Exception:
        """The exception for an answer of HTTP ``status`` with ``body``."""


class RemoteGenerator(HTTPBackend):
    """StarCoder2 behind an OpenAI-compatible completions server.

    Args:
        url: the server (``http://localhost:8000``) or its ``/v1/completions`` URL.
        model: the served model's name (default: the first one ``/v1/models`` lists).
        api_key: sent as ``Authorization: Bearer …``.
        timeout: seconds to wait for the server to answer (or for the next streamed chunk).
        retries: further tries after a connection failure, a timeout, a 429 or a 5xx.
        transport: an ``httpx`` transport (tests use recorded exchanges through ``MockTransport``).

    Raises:
        GeneratorUnavailable: httpx missing; later, a server that cannot be reached or refuses.
    """

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 0.5,
        transport: Any = None,
    ) -> None:
        super().__init__(
            url, api_key=api_key, timeout=timeout, retries=retries, backoff=backoff, transport=transport
        )
        self.url = completions_url(url)
        self.model = model
        self.name = model or url

    def __enter__(self) -> RemoteGenerator:
        return self

    def _served_model(self) -> str | None:
        # OpenAI's API requires `model`; vLLM answers 404 for a wrong one.  Ask the server once.
        if self.model is None:
            try:
                resp = self._client.get(self.url.rsplit("/completions", 1)[0] + "/models")
                data = resp.json()["data"] if resp.status_code == 200 else []
                self.model = str(data[0]["id"]) if data else ""
            except (self._httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
                self.model = ""
        return self.model or None

    def body(
        self, prompt: str, params: GenerationParams, *, suffix: str | None, stream: bool
    ) -> dict[str, Any]:
        """The JSON request for ``params`` (the OpenAI completions shape plus vLLM/TGI extensions)."""
        text = fim_prompt(prompt, suffix) if suffix is not None else prompt
        if not text:
            raise InvalidInput("prompt: empty (give some code to continue, or a --suffix for FIM)")
        # Without the model's tokenizer the prompt's length is unknown: the server checks the sum.
        check_context(0, params.max_new_tokens, CONTEXT_TOKENS)
        body: dict[str, Any] = {
            "prompt": text,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": params.num_responses,
            "presence_penalty": params.presence_penalty,
            "frequency_penalty": params.frequency_penalty,
            "stream": stream,
        }
        model = self._served_model()
        if model:
            body["model"] = model
        if params.stop:
            body["stop"] = list(params.stop)
        if params.top_k:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs is not None:
            body["logprobs"] = params.logprobs
        if params.logit_bias:
            body["logit_bias"] = {str(tok): bias for tok, bias in params.logit_bias}
        if params.best_of is not None and params.best_of > params.num_responses:
            body["best_of"] = params.best_of
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    # -- requests ----------------------------------------------------------------------------------

    def _error(self, status: int, body: bytes) -> Exception:
        msg = server_message(body)
        where = self.url
        if status in (400, 413, 422):
            low = msg.lower()
            if "context" in low or "max_tokens" in low or ("maximum" in low and "token" in low):
                return InvalidParameter("max_new_tokens", f"the server refused: {msg}")
            return InvalidInput(f"the server refused the request (HTTP {status}): {msg}")
        if status in (401, 403):
            return GeneratorUnavailable(
                f"{where} refused the credentials (HTTP {status}: {msg}); "
                "pass --api-key (or set WHENCE_API_KEY for whence generate, WHENCE_REMOTE_API_KEY for "
                "whence serve)"
            )
        if status == 404:
            return GeneratorUnavailable(
                f"{where}: HTTP 404 ({msg}); is it an OpenAI-compatible server, and is --remote-model right?"
            )
        return GeneratorUnavailable(f"{where} failed: HTTP {status}: {msg}")

    def generate(self, prompt: str, params: GenerationParams, *, suffix: str | None = None) -> Any:
        """Generate ``params.num_responses`` completions in one request (see :class:`CodeGenerator`)."""
        resp = self._send(self.body(prompt, params, suffix=suffix, stream=False))
        try:
            data = json.loads(resp.read())
        except (ValueError, self._httpx.HTTPError) as exc:
            raise GeneratorUnavailable(f"{self.url}: the answer is not JSON ({exc})") from exc
        finally:
            resp.close()
        return collect(self._events_of(data, params), self.name, logprobs=params.logprobs is not None)

    def prompt_logprobs(self, prompt: str, top: int = 0) -> list[TokenLogprob]:
        """The prompt's tokens with the server's log-probabilities (for ``echo``): asks for the prompt
        echoed with ``logprobs`` and one greedy token, as OpenAI's legacy API and vLLM answer it, and
        keeps the tokens that start inside the prompt.

        Raises:
            InvalidInput: an empty prompt.
            InvalidParameter: the server sent no log-probabilities back (it does not support them).
        """
        if not prompt:
            raise InvalidInput("prompt: empty")
        body: dict[str, Any] = {"prompt": prompt, "max_tokens": 1, "temperature": 0, "echo": True,
                                "logprobs": top, "stream": False}  # fmt: skip
        model = self._served_model()
        if model:
            body["model"] = model
        resp = self._send(body)
        try:
            data = json.loads(resp.read())
            lp = data["choices"][0].get("logprobs")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, self._httpx.HTTPError) as exc:
            raise GeneratorUnavailable(f"{self.url}: not an OpenAI completions answer ({exc})") from exc
        finally:
            resp.close()
        offsets = lp.get("text_offset") if isinstance(lp, dict) else None
        tokens = _tokens(lp)
        if not tokens or not isinstance(offsets, list) or len(offsets) != len(tokens):
            raise InvalidParameter("echo", f"{self.url} sent no log-probabilities of the prompt's tokens")
        out: list[TokenLogprob] = []
        for t, at in zip(tokens, offsets, strict=True):
            if not isinstance(at, int) or at >= len(prompt):
                break
            out.append(TokenLogprob(t["token"], t["logprob"], t["top_logprobs"] if top else None))
        if out:
            out[0].logprob = None  # nothing precedes the first token
        return out

    def _events_of(self, data: Any, params: GenerationParams) -> Iterator[StreamEvent]:
        try:
            choices = sorted(data["choices"], key=lambda c: int(c.get("index", 0)))
            for n, c in enumerate(choices):
                buf = StopBuffer(params.stop)
                # The server cut at the stop strings already; cutting again costs nothing and covers
                # servers that ignore `stop`.
                text = buf.feed(str(c["text"])) + buf.flush()
                yield StreamEvent("text", n, text=text)
                for token in _tokens(c.get("logprobs")):
                    yield StreamEvent("text", n, **token)
                yield StreamEvent("finish", n, finish_reason=_reason(c.get("finish_reason"), buf.done))
            usage = data.get("usage") or {}
            yield StreamEvent(
                "usage",
                usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise GeneratorUnavailable(
                f"{self.url}: not an OpenAI completions answer ({type(exc).__name__}: {exc})"
            ) from exc

    def stream(
        self, prompt: str, params: GenerationParams, *, suffix: str | None = None
    ) -> Iterator[StreamEvent]:
        """Stream the completion over server-sent events (see :class:`CodeGenerator`)."""
        body = self.body(prompt, params, suffix=suffix, stream=True)
        return self._stream(body, params)

    def _stream(self, body: dict[str, Any], params: GenerationParams) -> Iterator[StreamEvent]:
        resp = self._send(body)
        n = params.num_responses
        buffers = [StopBuffer(params.stop) for _ in range(n)]
        texts = [""] * n
        chunks = [0] * n
        finished: list[str | None] = [None] * n
        usage: Usage | None = None
        try:
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, `:` keep-alive comments, `event:` lines
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError as exc:
                    raise GeneratorUnavailable(
                        f"{self.url}: a streamed event is not JSON: {payload[:200]!r}"
                    ) from exc
                if isinstance(chunk, dict) and "error" in chunk:
                    raise GeneratorUnavailable(
                        f"{self.url} failed while streaming: {server_message(payload.encode())}"
                    )
                if chunk.get("usage"):
                    u = chunk["usage"]
                    usage = Usage(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)))
                for c in chunk.get("choices") or []:
                    i = int(c.get("index", 0))
                    if not 0 <= i < n or finished[i] is not None:
                        continue
                    piece = str(c.get("text") or "")
                    tokens = _tokens(c.get("logprobs"))
                    if piece:
                        chunks[i] += 1
                        texts[i] += piece
                        out = buffers[i].feed(texts[i])
                        # One token in the chunk (vLLM's and TGI's way): the text event carries it.
                        one = tokens.pop() if len(tokens) == 1 else {}
                        if out or one:
                            yield StreamEvent("text", i, text=out, **one)
                    for token in tokens:
                        yield StreamEvent("text", i, **token)
                    if buffers[i].done or c.get("finish_reason"):
                        finished[i] = _reason(c.get("finish_reason"), buffers[i].done)
                        rest = buffers[i].flush()
                        if rest:
                            yield StreamEvent("text", i, text=rest)
                        yield StreamEvent("finish", i, finish_reason=finished[i], tokens=chunks[i])  # type: ignore[arg-type]
        except self._httpx.TimeoutException as exc:
            raise GeneratorUnavailable(
                f"{self.url} stopped streaming (no data for {self.timeout:g}s)"
            ) from exc
        except self._httpx.TransportError as exc:
            raise GeneratorUnavailable(f"{self.url}: the stream broke off: {exc}") from exc
        finally:
            resp.close()
        for i in range(n):
            if finished[i] is None:
                rest = buffers[i].flush()
                if rest:
                    yield StreamEvent("text", i, text=rest)
                yield StreamEvent(
                    "finish", i, finish_reason="stop" if buffers[i].done else "length", tokens=chunks[i]
                )
        # A server that does not send usage while streaming: one event carries one token in vLLM and
        # TGI, so the events are counted; the prompt's length is then unknown (0).
        yield StreamEvent("usage", usage=usage or Usage(0, sum(chunks)))


def _tokens(logprobs: Any) -> list[dict[str, Any]]:
    """The tokens of an OpenAI ``logprobs`` object (``tokens``, ``token_logprobs``, ``top_logprobs``) as
    :class:`StreamEvent` fields; none when the server sent none."""
    if not isinstance(logprobs, dict):
        return []
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or []
    out: list[dict[str, Any]] = []
    for j, tok in enumerate(tokens):
        value = values[j] if j < len(values) else None
        top = tops[j] if j < len(tops) and isinstance(tops[j], dict) else None
        out.append({
            "token": str(tok),
            "logprob": _finite(value),
            "top_logprobs": {str(k): v for k, v in top.items() if _finite(v) is not None} if top else None,
        })  # fmt: skip
    return out


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _reason(value: Any, cut_here: bool) -> Any:
    if cut_here or value == "stop":
        return "stop"
    if value == "length":
        return "length"
    if value == "content_filter":
        return "content_filter"
    return "stop"
