"""A small OpenAI-compatible completions server (stdlib ``http.server``) in a thread, serving any
:class:`CodeGenerator` the way vLLM does: ``GET /v1/models``, ``POST /v1/completions`` (JSON or
server-sent events with ``stream_options.include_usage``; ``logprobs`` and ``logit_bias`` as OpenAI's
legacy completions take and answer them), vLLM's error bodies and statuses.  ``root`` moves the API
under another path, as hosted APIs do (``/v1/openai``: ``/v1/openai/completions``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from whence.errors import InvalidInput
from whence.generator.base import (
    CodeGenerator,
    GenerationParams,
    InvalidParameter,
    StreamEvent,
    TokenLogprob,
    collect,
)


def _logprobs(tokens: list[TokenLogprob] | None, offset: int = 0) -> dict[str, Any] | None:
    if tokens is None:
        return None
    offsets = []
    for t in tokens:
        offsets.append(offset)
        offset += len(t.text)
    return {"tokens": [t.text for t in tokens], "token_logprobs": [t.logprob for t in tokens],
            "top_logprobs": [t.top for t in tokens], "text_offset": offsets}  # fmt: skip


def _chunk_logprobs(ev: StreamEvent, wanted: bool) -> dict[str, Any] | None:
    tok = ev.token_logprob() if wanted else None
    return _logprobs([tok]) if tok is not None else None


def _error(message: str, status: int) -> dict[str, Any]:
    kind = {400: "BadRequestError", 401: "AuthenticationError", 404: "NotFoundError"}.get(status, "Error")
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read the exchanges, not a log."""

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == self.server.root + "/models":
            self._json(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model"}]})
        else:
            self._json(404, _error(f"no route {self.path}", 404))

    def do_POST(self) -> None:
        srv = self.server
        srv.requests.append(self.path)
        if self.path != srv.root + "/completions":
            self._json(404, _error(f"no route {self.path}", 404))
            return
        if srv.api_key and self.headers.get("Authorization") != f"Bearer {srv.api_key}":
            self._json(401, _error("Unauthorized", 401))
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv.bodies.append(body)
        if body.get("model", srv.model_name) != srv.model_name:
            self._json(404, _error(f"The model `{body['model']}` does not exist.", 404))
            return
        try:
            params = GenerationParams(
                max_new_tokens=body.get("max_tokens", 16),
                temperature=body.get("temperature", 1.0),
                top_p=body.get("top_p", 1.0),
                top_k=body.get("top_k", 0),
                repetition_penalty=body.get("repetition_penalty", 1.0),
                presence_penalty=body.get("presence_penalty", 0.0),
                frequency_penalty=body.get("frequency_penalty", 0.0),
                stop=tuple(body.get("stop") or ()),
                num_responses=body.get("n", 1),
                seed=body.get("seed"),
                logprobs=body.get("logprobs"),
                logit_bias=tuple((body.get("logit_bias") or {}).items()),
            )
            with srv.lock:
                events = list(srv.generator.stream(body["prompt"], params))
        except InvalidParameter as exc:
            if exc.param == "max_new_tokens":
                # vLLM's wording for a request beyond the context.
                msg = (
                    "This model's maximum context length is 16384 tokens. "
                    f"However, you requested more ({exc})."
                )
            else:
                msg = str(exc)
            self._json(400, _error(msg, 400))
            return
        except InvalidInput as exc:
            self._json(400, _error(str(exc), 400))
            return
        if not body.get("stream"):
            wanted = body.get("logprobs") is not None
            done = collect(iter(events), srv.model_name, logprobs=wanted)
            if body.get("echo"):  # as OpenAI's legacy API: the prompt first, its tokens scored
                scorer: Any = srv.generator  # a LocalGenerator
                scored = scorer.prompt_logprobs(body["prompt"], body.get("logprobs") or 0)
                for c in done.choices:
                    c.text = body["prompt"] + c.text
                    c.logprobs = scored + (c.logprobs or []) if wanted else None
            self._json(
                200,
                {
                    "id": "cmpl-test",
                    "object": "text_completion",
                    "model": srv.model_name,
                    "choices": [
                        {
                            "index": c.index,
                            "text": c.text,
                            "finish_reason": c.finish_reason,
                            "logprobs": _logprobs(c.logprobs),
                        }
                        for c in done.choices
                    ],
                    "usage": done.usage.as_dict()
                    | {"total_tokens": done.usage.prompt_tokens + done.usage.completion_tokens},
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for ev in events:
            chunk: dict[str, Any] = {"id": "cmpl-test", "object": "text_completion", "model": srv.model_name}
            if ev.kind == "text":
                lp = _chunk_logprobs(ev, body.get("logprobs") is not None)
                chunk["choices"] = [
                    {"index": ev.index, "text": ev.text, "finish_reason": None, "logprobs": lp}
                ]
            elif ev.kind == "finish":
                chunk["choices"] = [{"index": ev.index, "text": "", "finish_reason": ev.finish_reason}]
            elif ev.kind == "usage" and ev.usage is not None:
                if not (body.get("stream_options") or {}).get("include_usage"):
                    continue
                chunk["choices"] = []
                chunk["usage"] = ev.usage.as_dict()
            else:
                continue
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, generator: CodeGenerator, model_name: str, api_key: str | None, root: str = "/v1"
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.generator = generator
        self.model_name = model_name
        self.api_key = api_key
        self.lock = threading.Lock()  # one generation at a time: the model is not thread-safe
        self.requests: list[str] = []
        self.bodies: list[dict[str, Any]] = []


@contextmanager
def serve(
    generator: CodeGenerator,
    model_name: str = "tiny-starcoder2",
    api_key: str | None = None,
    root: str = "/v1",
) -> Iterator[_Server]:
    """Run the server in a thread, its API under ``root``; yields it (:func:`url_of` is its address)."""
    srv = _Server(generator, model_name, api_key, root)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


def url_of(srv: _Server) -> str:
    host, port = srv.server_address[:2]
    return f"http://{host!s}:{port}"
