"""The hosted StarCoder2 API's route and TGI's routes, driven over the wire against ``whence serve``
(the tiny StarCoder2) by real clients: ``curl -N`` on the hosted route's stream,
``huggingface_hub.InferenceClient`` on TGI's routes; webhooks delivered to a local receiver; every
field that is not supported refused with a 422 naming it; a request id on every answer."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from huggingface_hub import InferenceClient
from huggingface_hub.errors import ValidationError

from tests.servers import whence_serve
from tests.test_generator import split
from whence.api.app import create_app
from whence.api.http_errors import ApiError
from whence.api.settings import Settings
from whence.api.state import State
from whence.api.webhooks import HostPolicy, Target, WebhookRefused

pytestmark = pytest.mark.timeout(1200)  # the first run on a machine trains the tiny model

HOSTED = "/v1/inference/bigcode/starcoder2-15b"


class Receiver(ThreadingHTTPServer):
    """A webhook receiver: records each POST (path, headers, JSON body) and answers ``statuses`` in turn
    (then 200); a path starting ``/hold`` waits for ``release`` before answering."""

    daemon_threads = True

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.statuses = statuses
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.changed = threading.Condition()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def wait_for(self, n: int, timeout: float = 120) -> list[tuple[str, dict[str, str], Any]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.posts) >= n, timeout), f"{len(self.posts)} of {n}"
            return list(self.posts)


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.changed:
            srv.posts.append((self.path, dict(self.headers.items()), body))
            status = srv.statuses.pop(0) if srv.statuses else 200
            srv.changed.notify_all()
        if self.path.startswith("/hold"):
            srv.release.wait(120)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server(
    tiny_model: Path, tiny_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """``whence serve`` on the tiny model, webhooks allowed to 127.0.0.1 (queue of 1, quick back-off);
    yields its base URL and an API key."""
    folder = tmp_path_factory.mktemp("hosted")
    state = State(str(folder / "state.sqlite"))
    _, key = state.create_key("hosted")
    state.close()
    env = {"WHENCE_WEBHOOK_HOSTS": "127.0.0.1", "WHENCE_WEBHOOK_QUEUE": "1", "WHENCE_WEBHOOK_BACKOFF": "0.05",
           "WHENCE_WEBHOOK_ATTEMPTS": "3", "WHENCE_RATE_LIMIT_BURST": "1000"}  # fmt: skip
    args = ["--index", str(tiny_index), "--model", str(tiny_model), "--state", str(folder / "state.sqlite")]
    with whence_serve(args, env) as (_, base):
        yield base, key


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _frames(text: str) -> list[dict[str, Any]]:
    return [json.loads(f.removeprefix("data: ")) for f in text.split("\n\n") if f.startswith("data: ")]


# -- the hosted API's stream, with curl ---------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
def test_hosted_stream_with_curl(server: tuple[str, str], tiny_corpus: Path, tmp_path: Path) -> None:
    base, key = server
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    body = {"input": prompt, "max_new_tokens": 250, "temperature": 0}  # text is checked every 256 characters
    plain = httpx.post(base + HOSTED, json=body, headers=_auth(key), timeout=300)
    assert plain.status_code == 200, plain.text
    want = plain.json()
    assert want["request_id"] == plain.headers["x-request-id"] and len(want["request_id"]) >= 16
    headers = tmp_path / "headers"
    out = subprocess.run(
        ["curl", "-N", "-sS", "--fail-with-body", "-D", str(headers), base + HOSTED,
         "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json",
         "-H", "X-Request-ID: curl-stream-1", "-d", json.dumps(body | {"stream": True})],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    head = headers.read_text().lower()
    assert "content-type: text/event-stream" in head and "x-request-id: curl-stream-1" in head
    frames = _frames(out.stdout)
    assert all(f["request_id"] == "curl-stream-1" for f in frames)
    tokens = [f for f in frames if f["token"] is not None]
    assert len(tokens) > 10
    for f in tokens[:-1]:  # generated_text and details are null until the last event
        assert f["generated_text"] is None and f["details"] is None
        assert set(f["token"]) == {"id", "text", "logprob", "special"} and f["token"]["special"] is False
        assert f["token"]["id"] is None or isinstance(f["token"]["id"], int)
    last = frames[-1]
    text = "".join(f["token"]["text"] for f in tokens)
    assert last["generated_text"] == text == want["results"][0]["generated_text"] and rest.startswith(text)
    d = last["details"]
    assert d["finish_reason"] == "length" and d["generated_tokens"] == 250 and d["seed"] is None
    assert d["input_tokens"] == want["num_input_tokens"] > 50
    assert d["attribution"]["verdict"] == "verbatim"
    early = [i for i, f in enumerate(frames) if "attribution" in f]
    assert early and early[0] < len(frames) - 1  # a match reported while streaming
    assert frames[early[0]]["attribution"]["matches"][0]["path"] == "colorsys.py"


def test_hosted_stream_refuses_two_responses_and_a_webhook(server: tuple[str, str]) -> None:
    base, key = server
    for extra, field in (
        ({"num_responses": 2}, "num_responses"),
        ({"webhook": "http://127.0.0.1:9/"}, "webhook"),
    ):
        res = httpx.post(
            base + HOSTED, json={"input": "x = ", "stream": True} | extra, headers=_auth(key), timeout=120
        )
        assert res.status_code == 422 and res.json()["error"]["field"] == field, res.text
        assert res.json()["request_id"] == res.headers["x-request-id"]  # errors carry the id too


# -- nothing accepted and ignored ---------------------------------------------------------------------


def test_every_unsupported_field_is_a_422_naming_it(server: tuple[str, str]) -> None:
    base, key = server
    res = httpx.post(
        base + HOSTED, json={"input": "x", "best_of": 2, "logprobs": 5}, headers=_auth(key), timeout=120
    )
    assert res.status_code == 422, res.text
    err = res.json()["error"]
    assert err["field"] == "best_of" and "best_of, logprobs: not supported" in err["message"]
    fmt = httpx.post(
        base + HOSTED, json={"input": "x", "response_format": {"type": "json_object"}}, headers=_auth(key)
    )
    assert fmt.status_code == 422 and fmt.json()["error"]["field"] == "response_format.type", fmt.text
    bad = httpx.post(base + HOSTED, json={"input": "x", "response_format": {"type": "text", "schema": {}}},
                     headers=_auth(key))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "response_format.schema", bad.text
    text_format = {"input": "x = ", "max_new_tokens": 3, "response_format": {"type": "text"}}
    ok = httpx.post(base + HOSTED, json=text_format, headers=_auth(key), timeout=120)
    assert ok.status_code == 200 and ok.json()["results"][0]["num_tokens"] == 3, ok.text
    # TGI's routes: the request and its parameters; and TGI parameters whence does not implement.
    grammar = {"type": "json", "value": {}}
    cases: list[tuple[dict[str, Any] | None, str]] = [
        ({"n": 2}, "parameters.n"), ({"best_of": 2}, "parameters.best_of"),
        ({"truncate": 10}, "parameters.truncate"),
        ({"grammar": grammar}, "parameters.grammar"), ({"watermark": True}, "parameters.watermark"),
        ({"temperature": 101}, "parameters.temperature"), (None, "stream"),
    ]  # fmt: skip
    for parameters, field in cases:
        body = {"inputs": "x", "parameters": parameters} if parameters else {"inputs": "x", "stream": True}
        res = httpx.post(base + "/generate", json=body, headers=_auth(key), timeout=120)
        assert res.status_code == 422, res.text
        assert res.json()["field"] == field and res.json()["error_type"] == "validation", res.text
        assert field in res.json()["error"]


def test_a_body_that_is_not_json_is_refused(server: tuple[str, str]) -> None:
    base, key = server
    for route in (HOSTED, "/generate"):
        form = httpx.post(base + route, files={"input": (None, "def f():")}, headers=_auth(key), timeout=120)
        assert form.status_code == 415, form.text
        message = form.json()["error"]["message"] if route == HOSTED else form.json()["error"]
        assert "must be JSON" in message and "multipart/form-data" in message
        urlenc = httpx.post(base + route, data={"input": "x"}, headers=_auth(key), timeout=120)
        assert urlenc.status_code == 415
    broken = httpx.post(
        base + HOSTED, content=b'{"input": ', headers=_auth(key) | {"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]["message"], broken.text
    array = httpx.post(base + HOSTED, json=["x"], headers=_auth(key), timeout=120)
    assert array.status_code == 422 and "JSON object" in array.json()["error"]["message"], array.text


# -- request ids --------------------------------------------------------------------------------------


def test_every_answer_has_a_request_id(server: tuple[str, str]) -> None:
    base, _ = server
    seen = set()
    for method, path, headers in (("GET", "/healthz", {}), ("GET", "/v1/usage", {}), ("GET", "/nowhere", {}),
                                  ("POST", "/v1/search", {"Authorization": "Bearer nope"})):  # fmt: skip
        res = httpx.request(method, base + path, headers=headers)
        rid = res.headers["x-request-id"]
        assert len(rid) == 32 and rid not in seen
        seen.add(rid)
    assert (
        httpx.get(base + "/healthz", headers={"X-Request-ID": "trace-42.a"}).headers["x-request-id"]
        == "trace-42.a"
    )
    for insane in ("has space", "x" * 200, "é-accent", "-leading", ""):
        res = httpx.get(base + "/healthz", headers={"X-Request-ID": insane.encode()})
        assert res.headers["x-request-id"] != insane and len(res.headers["x-request-id"]) == 32


def test_the_request_id_is_logged(built_index: Path, tmp_path: Path) -> None:
    s = Settings(index=str(built_index), state=str(tmp_path / "s.sqlite"))
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    keep = Keep()
    logging.getLogger("whence.api").addHandler(keep)
    try:
        with TestClient(create_app(s)) as c:
            res = c.get("/healthz", headers={"X-Request-ID": "log-me-1"})
            hostile = c.get("/no%0Awhere")
    finally:
        logging.getLogger("whence.api").removeHandler(keep)
    assert res.headers["x-request-id"] == "log-me-1"
    assert any(line.startswith("log-me-1 GET /healthz 200 ") for line in lines), lines
    rid = hostile.headers["x-request-id"]
    assert any(line.startswith(f"{rid} GET /no\\nwhere 404") for line in lines), lines


# -- webhooks -----------------------------------------------------------------------------------------


def test_webhook_is_queued_then_delivered_with_retries(server: tuple[str, str], tiny_corpus: Path) -> None:
    base, key = server
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    receiver = Receiver([503, 500])  # two failures, then delivered
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        body = {
            "input": prompt,
            "max_new_tokens": 80,
            "temperature": 0,
            "webhook": receiver.url + "/done?k=1",
        }
        res = httpx.post(base + HOSTED, json=body, headers=_auth(key), timeout=120)
        assert res.status_code == 200, res.text
        queued = res.json()
        assert queued == {"status": "queued", "request_id": res.headers["x-request-id"]}
        posts = receiver.wait_for(3)
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert [p[0] for p in posts] == ["/done?k=1"] * 3
    _, headers, result = posts[-1]
    assert headers["X-Request-ID"] == queued["request_id"] and headers["Content-Type"] == "application/json"
    assert result["request_id"] == queued["request_id"]
    r = result["results"][0]
    assert rest.startswith(r["generated_text"]) and r["num_tokens"] == 80
    assert r["attribution"]["verdict"] == "verbatim" and result["inference_status"]["status"] == "succeeded"


def test_webhook_queue_is_bounded(server: tuple[str, str]) -> None:
    base, key = server
    receiver = Receiver([])
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    body = {"input": "x = ", "max_new_tokens": 2, "webhook": receiver.url + "/hold"}
    try:
        first = httpx.post(base + HOSTED, json=body, headers=_auth(key), timeout=120)
        assert first.status_code == 200, first.text
        receiver.wait_for(1)  # the worker holds job 1 (its receiver has not answered): the queue is empty
        second = httpx.post(base + HOSTED, json=body, headers=_auth(key), timeout=120)
        assert second.status_code == 200, second.text
        third = httpx.post(base + HOSTED, json=body, headers=_auth(key), timeout=120)
        assert third.status_code == 503 and third.headers["retry-after"] == "5", third.text
        assert "queue is full" in third.json()["error"]["message"]
        receiver.release.set()
        posts = receiver.wait_for(2)
        assert [p[2]["request_id"] for p in posts] == [
            first.json()["request_id"],
            second.json()["request_id"],
        ]
    finally:
        receiver.release.set()
        receiver.shutdown()
        receiver.server_close()


def test_webhook_urls_are_checked(server: tuple[str, str]) -> None:
    base, key = server
    for url, why in (("http://10.1.2.3/h", "not one this server delivers to"),
                     ("http://localhost/h", "not one this server delivers to"),
                     ("ftp://127.0.0.1/h", "http:// or https://"),
                     ("http://u:p@127.0.0.1/h", "credentials"),
                     ("http://127.0.0.1:99999/h", "not a valid URL"),
                     ("http://127.0.0.1/a b", "spaces or control"),
                     ("http://127.0.0.1/" + "a" * 3000, "longer than")):  # fmt: skip
        res = httpx.post(base + HOSTED, json={"input": "x", "webhook": url}, headers=_auth(key), timeout=120)
        assert res.status_code == 422 and res.json()["error"]["field"] == "webhook", (url, res.text)
        assert why in res.json()["error"]["message"], (url, res.text)


def test_webhook_host_policy() -> None:
    """SSRF: a host allowed by a pattern must resolve to public addresses only; one named exactly is
    trusted; no list, no webhooks."""
    with pytest.raises(ApiError, match="delivers no webhooks"):
        HostPolicy("").check("https://hooks.example.com/x")
    anyhost = HostPolicy("*")
    for url in (
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
        "http://[::ffff:10.0.0.1]/",
    ):
        with pytest.raises(ApiError, match="not a public address"):
            anyhost.check(url)
    target = anyhost.check("http://localhost:8080/x")
    with pytest.raises(WebhookRefused, match="not a public address"):
        HostPolicy.address(target)
    t = anyhost.check("https://8.8.8.8/h?a=1")
    assert (t.scheme, t.host, t.port, t.path, t.exact) == ("https", "8.8.8.8", 443, "/h?a=1", False)
    suffix = HostPolicy("*.hooks.example.com, 192.168.0.5")
    assert suffix.check("http://a.hooks.example.com/").exact is False
    with pytest.raises(ApiError, match="not one this server"):
        suffix.check("http://hooks.example.com.evil.net/")
    named = suffix.check("http://192.168.0.5:81/")
    assert named.exact and HostPolicy.address(named) == "192.168.0.5"
    assert HostPolicy.address(Target("u", "http", "localhost", 80, "/", exact=True)) in ("127.0.0.1", "::1")


# -- TGI's routes, with huggingface_hub's InferenceClient --------------------------------------------


def test_inference_client_text_generation(server: tuple[str, str], tiny_corpus: Path) -> None:
    base, key = server
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    client = InferenceClient(base_url=base, api_key=key)
    text = client.text_generation(prompt, max_new_tokens=60)  # greedy, as TGI without do_sample
    assert isinstance(text, str) and len(text) > 80 and rest.startswith(text)
    out = client.text_generation(prompt, max_new_tokens=60, details=True)
    assert out.generated_text == text
    d = out.details
    assert d is not None and d.finish_reason == "length" and d.generated_tokens == 60
    assert "".join(t.text for t in d.tokens) == text and all(t.special is False for t in d.tokens)
    assert d.attribution["verdict"] == "verbatim"  # type: ignore[attr-defined]
    assert d.attribution["matches"][0]["path"] == "colorsys.py"  # type: ignore[attr-defined]
    streamed = list(client.text_generation(prompt, max_new_tokens=60, stream=True))
    assert "".join(streamed) == text
    events = list(client.text_generation(prompt, max_new_tokens=60, stream=True, details=True))
    assert "".join(e.token.text for e in events) == text
    assert all(e.generated_text is None and e.details is None for e in events[:-1])
    last = events[-1]
    assert last.generated_text == text and last.details is not None
    assert last.details.finish_reason == "length" and last.details.generated_tokens == 60
    assert last.details.attribution["verdict"] == "verbatim"  # type: ignore[attr-defined]
    stop = rest.split("\n", 3)[2].strip()[:6]
    cut = client.text_generation(prompt, max_new_tokens=100, stop=[stop], details=True, return_full_text=True)
    assert cut.generated_text.startswith(prompt) and stop not in cut.generated_text[len(prompt) :]
    assert cut.details is not None and cut.details.finish_reason == "stop_sequence"
    sampled = client.text_generation(
        prompt, max_new_tokens=20, do_sample=True, temperature=0.8, seed=7, details=True
    )
    again = client.text_generation(prompt, max_new_tokens=20, do_sample=True, temperature=0.8, seed=7)
    assert sampled.generated_text == again and sampled.details is not None and sampled.details.seed == 7


def test_inference_client_errors_are_tgi_errors(server: tuple[str, str]) -> None:
    base, key = server
    client = InferenceClient(base_url=base, api_key=key)
    with pytest.raises(ValidationError, match=r"parameters\.best_of"):
        client.text_generation("x", best_of=2)
    with pytest.raises(ValidationError, match=r"parameters\.max_new_tokens"):
        client.text_generation("x", max_new_tokens=0)
    info = httpx.get(base + "/info")  # no key, as TGI
    assert info.status_code == 200 and info.json()["max_total_tokens"] == 16384 and info.json()["model_id"]
    anon = httpx.post(base + "/generate", json={"inputs": "x"})
    assert anon.status_code == 401 and anon.json()["error_type"] == "unauthorized"


# -- the TGI backend (`--remote`), against whence's own TGI routes -----------------------------------


def test_tgi_backend_against_whence(
    server: tuple[str, str], tiny_corpus: Path, tiny_index: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from whence.cli import main
    from whence.generator.base import GenerationParams
    from whence.generator.tgi import TGIGenerator, detect_protocol, remote_backend

    base, key = server
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    assert detect_protocol(base) == "tgi"
    with remote_backend(base + "/generate", api_key=key) as gen:
        assert isinstance(gen, TGIGenerator)
        params = GenerationParams(temperature=0, max_new_tokens=50, num_responses=2)
        done = gen.generate(prompt, params)
        events = list(gen.stream(prompt, GenerationParams(temperature=0, max_new_tokens=50)))
    want = httpx.post(base + HOSTED, json={"input": prompt, "max_new_tokens": 50, "temperature": 0},
                      headers=_auth(key), timeout=120).json()  # fmt: skip
    text = want["results"][0]["generated_text"]
    assert [c.text for c in done.choices] == [text, text] and rest.startswith(text)
    assert [c.finish_reason for c in done.choices] == ["length", "length"]
    assert done.usage.completion_tokens == 100 and done.usage.prompt_tokens == want["num_input_tokens"]
    assert "".join(e.text for e in events if e.kind == "text") == text
    with pytest.raises(Exception, match="presence_penalty"):
        TGIGenerator(base, api_key=key).generate(prompt, GenerationParams(presence_penalty=1))
    # whence generate --remote: TGI found by GET /info; attributed by the local index.
    args = ["generate", prompt, "--remote", base, "--api-key", key, "--index", str(tiny_index)]
    res = CliRunner().invoke(
        main, [*args, "--temperature", "0", "--max-new-tokens", "50", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["choices"][0]["text"] == text and data["choices"][0]["attribution"]["verdict"] == "verbatim"
    # whence serve --remote: a second server generating through the first one's TGI routes.
    state = State(str(tmp_path / "front.sqlite"))
    _, front_key = state.create_key("front")
    state.close()
    args = [
        "--index",
        str(tiny_index),
        "--remote",
        base,
        "--remote-protocol",
        "tgi",
        "--state",
        str(tmp_path / "front.sqlite"),
    ]
    with whence_serve(args, {"WHENCE_REMOTE_API_KEY": key}) as (_, front):
        out = httpx.post(front + HOSTED, json={"input": prompt, "max_new_tokens": 50, "temperature": 0},
                         headers=_auth(front_key), timeout=120)  # fmt: skip
    assert out.status_code == 200, out.text
    assert out.json()["results"][0]["generated_text"] == text
    assert out.json()["results"][0]["attribution"]["verdict"] == "verbatim"


def test_a_failed_webhook_job_delivers_its_error(server: tuple[str, str]) -> None:
    base, key = server
    receiver = Receiver([])
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    prompt = "".join(f"value_{i} = {i * 7}\n" for i in range(6000))  # over the context with 512 new tokens
    try:
        res = httpx.post(
            base + HOSTED,
            json={"input": prompt, "webhook": receiver.url + "/f"},
            headers=_auth(key),
            timeout=120,
        )
        assert res.status_code == 200, res.text
        (_, headers, body), *_ = receiver.wait_for(1)
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert body["request_id"] == res.json()["request_id"] == headers["X-Request-ID"]
    assert body["inference_status"]["status"] == "failed"
    assert body["error"]["status"] == 422 and body["error"]["field"] == "max_new_tokens"


def test_webhook_delivery_retries_only_what_may_succeed() -> None:
    """``Webhooks.deliver`` against a real receiver: a 4xx is not retried, 5xx are until the tries run
    out, and a host allowed only by a pattern that resolves to loopback is never contacted."""
    from whence.api.webhooks import Webhooks

    receiver = Receiver([400, 503, 503, 503])
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        hooks = Webhooks("127.0.0.1", size=1, attempts=3, backoff=0.01)
        target = hooks.check(receiver.url + "/r")
        assert hooks.deliver("rid-1", target, {"x": 1}) is False and len(receiver.posts) == 1
        assert hooks.deliver("rid-2", target, {"x": 2}) is False and len(receiver.posts) == 4
        assert hooks.deliver("rid-3", target, {"x": 3}) is True and len(receiver.posts) == 5
        assert [p[1]["X-Request-ID"] for p in receiver.posts] == ["rid-1"] + ["rid-2"] * 3 + ["rid-3"]
        pattern = Webhooks("*", size=1, attempts=3, backoff=0.01)
        local = pattern.check(receiver.url.replace("127.0.0.1", "localhost") + "/r")
        assert pattern.deliver("rid-4", local, {"x": 4}) is False and len(receiver.posts) == 5
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_tgi_stream_carries_attribution_as_soon_as_certain(
    server: tuple[str, str], tiny_corpus: Path
) -> None:
    base, key = server
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    body = {"inputs": prompt, "parameters": {"max_new_tokens": 250}}  # text is checked every 256 characters
    res = httpx.post(base + "/generate_stream", json=body, headers=_auth(key), timeout=300)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/event-stream")
    frames = _frames(res.text)
    assert [f["index"] for f in frames] == list(range(1, len(frames) + 1))
    early = [i for i, f in enumerate(frames) if "attribution" in f]
    assert early and early[0] < len(frames) - 1, "no match reported while streaming"
    assert frames[early[0]]["attribution"]["verdict"] == "verbatim"
    last = frames[-1]
    assert last["details"] is None and last["attribution"]["matches"][0]["path"] == "colorsys.py"
    assert last["generated_text"] == "".join(f["token"]["text"] for f in frames) and rest.startswith(
        last["generated_text"]
    )
