"""OpenAI's own Python client (``openai``) against ``whence serve`` with the tiny StarCoder2: the legacy
completions API (plain, streamed, ``n``, ``suffix``, ``echo``, ``logprobs``, list prompts,
``logit_bias``, ``best_of``), the model routes, and OpenAI's error classes for whence's errors.  The
log-probabilities are checked against the model run here with ``transformers``, and ``--remote`` against
the local OpenAI-protocol server (``tests/openai_server.py``) under a ``/v1/openai`` base."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.openai_server import serve, url_of
from tests.servers import whence_serve
from tests.test_generator import split
from whence.api.state import State
from whence.generator.local import LocalGenerator

pytestmark = pytest.mark.timeout(1200)  # the first run on a machine trains the tiny model

NAME = "whence-test/starcoder2-tiny"


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("openai-sdk") / "state.sqlite"
    state = State(path)
    _, key = state.create_key("sdk")
    state.close()
    return path, key


@pytest.fixture(scope="module")
def base(tiny_model: Path, tiny_index: Path, secret: tuple[Path, str]) -> Iterator[str]:
    args = ["--index", str(tiny_index), "--state", str(secret[0]), "--model", str(tiny_model),
            "--search-processes", "0", "--served-model-name", NAME]  # fmt: skip
    with whence_serve(args) as (_, url):
        yield url


@pytest.fixture(scope="module")
def client(base: str, secret: tuple[Path, str]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{base}/v1", api_key=secret[1], max_retries=0, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def scorer(tiny_model: Path) -> Any:
    """The tiny model and its tokenizer loaded here with transformers: log-probabilities to check the
    server's against."""
    from transformers import AutoTokenizer, Starcoder2ForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tiny_model), local_files_only=True)
    model = Starcoder2ForCausalLM.from_pretrained(str(tiny_model), local_files_only=True).eval()
    return tok, model


def _log_softmax(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.inference_mode():
        return torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)


def _prompt(tiny_corpus: Path) -> tuple[str, str]:
    return split(tiny_corpus, "cpython/colorsys.py", 40)


def _extra(obj: Any, name: str) -> Any:
    """A field whence adds to OpenAI's shapes (the client keeps unknown fields)."""
    return (obj.model_extra or {})[name]


def test_plain_completion_is_attributed_under_the_public_name(
    client: openai.OpenAI, tiny_corpus: Path
) -> None:
    prompt, rest = _prompt(tiny_corpus)
    out = client.completions.create(model=NAME, prompt=prompt, max_tokens=60, temperature=0)
    assert out.model == NAME and out.object == "text_completion" and out.id.startswith("cmpl-")
    (choice,) = out.choices
    assert len(choice.text) > 60 and rest.startswith(choice.text) and choice.finish_reason == "length"
    assert choice.logprobs is None
    assert _extra(choice, "attribution")["verdict"] == "verbatim"
    assert out.usage is not None and out.usage.completion_tokens == 60 and out.usage.prompt_tokens > 50


def test_stream_equals_the_plain_answer(client: openai.OpenAI, tiny_corpus: Path) -> None:
    prompt, _ = _prompt(tiny_corpus)
    plain = client.completions.create(model=NAME, prompt=prompt, max_tokens=40, temperature=0)
    chunks = list(
        client.completions.create(model=NAME, prompt=prompt, max_tokens=40, temperature=0, stream=True)
    )
    assert all(c.model == NAME for c in chunks)
    assert "".join(ch.text for c in chunks for ch in c.choices) == plain.choices[0].text
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 40


def test_two_choices_and_fill_in_the_middle(client: openai.OpenAI, tiny_corpus: Path) -> None:
    prompt, _ = _prompt(tiny_corpus)
    two = client.completions.create(model=NAME, prompt=prompt, max_tokens=16, n=2, temperature=0.8, seed=3)
    assert [c.index for c in two.choices] == [0, 1] and two.usage is not None
    assert 2 <= two.usage.completion_tokens <= 32  # both choices' tokens, at most 16 each
    lines = (tiny_corpus / "cpython/colorsys.py").read_text().splitlines(keepends=True)
    prefix, suffix = "".join(lines[:50]), "".join(lines[52:70])
    fim = client.completions.create(model=NAME, prompt=prefix, suffix=suffix, max_tokens=30, temperature=0)
    fim_prompt = f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"
    local = client.completions.create(model=NAME, prompt=fim_prompt, max_tokens=30, temperature=0)
    assert fim.choices[0].text == local.choices[0].text  # the suffix made the FIM prompt
    assert fim.choices[0].finish_reason in ("stop", "length")


def test_logprobs_are_the_models(client: openai.OpenAI, tiny_corpus: Path, scorer: Any) -> None:
    tok, model = scorer
    prompt, _ = _prompt(tiny_corpus)
    out = client.completions.create(model=NAME, prompt=prompt, max_tokens=12, temperature=0, logprobs=3)
    (choice,) = out.choices
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs and lp.text_offset
    assert "".join(lp.tokens) == choice.text and len(lp.tokens) == 12
    offsets = [len(prompt) + len("".join(lp.tokens[:i])) for i in range(len(lp.tokens))]
    assert lp.text_offset == offsets
    # The same numbers from the model run here: the generated tokens after the prompt, scored.
    ids = tok(prompt, add_special_tokens=False).input_ids
    gen = [tok(t, add_special_tokens=False).input_ids for t in lp.tokens]
    assert all(len(g) == 1 for g in gen), gen  # each generated token spells itself
    scores = _log_softmax(model, ids + [g[0] for g in gen])
    for i, (g, value, top) in enumerate(zip(gen, lp.token_logprobs, lp.top_logprobs, strict=True)):
        row = scores[len(ids) - 1 + i]
        assert value == pytest.approx(float(row[g[0]]), abs=1e-3)
        assert len(top) <= 4 and lp.tokens[i] in top and max(top.values()) == pytest.approx(value)  # greedy
        best = row.topk(3)
        assert sorted(top.values(), reverse=True)[:3] == pytest.approx(
            [float(v) for v in best.values], abs=1e-3
        )


def test_streamed_logprobs_match_the_plain_ones(client: openai.OpenAI, tiny_corpus: Path) -> None:
    prompt, _ = _prompt(tiny_corpus)
    kw: dict[str, Any] = {"model": NAME, "prompt": prompt, "max_tokens": 10, "temperature": 0, "logprobs": 2}
    plain = client.completions.create(**kw).choices[0].logprobs
    chunks = list(client.completions.create(**kw, stream=True))
    parts = [ch.logprobs for c in chunks for ch in c.choices if ch.logprobs is not None]
    assert plain is not None and parts
    assert [t for p in parts for t in p.tokens or []] == plain.tokens
    assert [t for p in parts for t in p.token_logprobs or []] == pytest.approx(plain.token_logprobs)
    assert [t for p in parts for t in p.text_offset or []] == plain.text_offset


def test_echo_returns_the_prompt_and_its_logprobs(client: openai.OpenAI, scorer: Any) -> None:
    tok, model = scorer
    prompt = "def hls_to_rgb(h, l, s):\n"
    out = client.completions.create(
        model=NAME, prompt=prompt, max_tokens=8, temperature=0, echo=True, logprobs=1
    )
    plain = client.completions.create(model=NAME, prompt=prompt, max_tokens=8, temperature=0)
    (choice,) = out.choices
    assert choice.text == prompt + plain.choices[0].text
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.text_offset is not None
    assert "".join(lp.tokens) == choice.text and lp.text_offset[0] == 0
    ids = tok(prompt, add_special_tokens=False).input_ids
    assert out.usage is not None and out.usage.prompt_tokens == len(ids)
    assert lp.token_logprobs[0] is None  # nothing precedes the first token
    scores = _log_softmax(model, ids)
    want = [float(scores[i - 1][ids[i]]) for i in range(1, len(ids))]
    assert lp.token_logprobs[1 : len(ids)] == pytest.approx(want, abs=1e-3)
    streamed = list(client.completions.create(model=NAME, prompt=prompt, max_tokens=8, temperature=0,
                                              echo=True, stream=True))  # fmt: skip
    assert "".join(ch.text for c in streamed for ch in c.choices) == choice.text
    assert streamed[0].choices[0].text == prompt


def test_a_list_of_prompts_gets_its_choices_numbered_as_openai_does(client: openai.OpenAI) -> None:
    prompts = ["def rgb_to_yiq(r, g, b):\n", "class Integer:\n"]
    out = client.completions.create(model=NAME, prompt=prompts, max_tokens=8, temperature=0, n=2)
    assert [c.index for c in out.choices] == [0, 1, 2, 3]
    for p, prompt in enumerate(prompts):
        one = client.completions.create(model=NAME, prompt=prompt, max_tokens=8, temperature=0)
        assert [c.text for c in out.choices[2 * p : 2 * p + 2]] == [one.choices[0].text] * 2
    streamed = list(
        client.completions.create(model=NAME, prompt=prompts, max_tokens=8, temperature=0, stream=True)
    )
    texts: dict[int, str] = {}
    for c in streamed:
        for ch in c.choices:
            texts[ch.index] = texts.get(ch.index, "") + ch.text
    assert texts == {0: out.choices[0].text, 1: out.choices[2].text}
    assert streamed[-1].usage is not None and streamed[-1].usage.completion_tokens == 16


def test_logit_bias_removes_and_forces_tokens(client: openai.OpenAI, scorer: Any) -> None:
    tok, _ = scorer
    prompt = "def rgb_to_hls(r, g, b):\n"
    kw: dict[str, Any] = {"model": NAME, "prompt": prompt, "max_tokens": 12, "temperature": 0, "logprobs": 0}
    free = client.completions.create(**kw).choices[0].logprobs
    assert free is not None and free.tokens
    first = free.tokens[0]
    (first_id,) = tok(first, add_special_tokens=False).input_ids
    banned = client.completions.create(**kw, logit_bias={str(first_id): -100}).choices[0]
    assert banned.logprobs is not None and banned.logprobs.tokens
    assert first not in banned.logprobs.tokens  # the greedy choice, never chosen now
    assert banned.text != "".join(free.tokens)
    (forced_id,) = tok(" return", add_special_tokens=False).input_ids
    forced = client.completions.create(**kw | {"max_tokens": 4}, logit_bias={str(forced_id): 100}).choices[0]
    assert forced.text == " return" * 4


def test_best_of_keeps_the_most_likely(client: openai.OpenAI) -> None:
    prompt = "def f(x):\n"
    kw: dict[str, Any] = {"model": NAME, "prompt": prompt, "max_tokens": 10, "temperature": 1.0, "seed": 11}
    both = client.completions.create(**kw, n=2, logprobs=0)
    best = client.completions.create(**kw, n=1, best_of=2, logprobs=0)

    def mean(c: Any) -> float:
        values = c.logprobs.token_logprobs
        return sum(values) / len(values) if values else -math.inf

    assert len({c.text for c in both.choices}) == 2  # two different samples to choose from
    want = max(both.choices, key=mean)
    assert [c.text for c in best.choices] == [want.text] and best.choices[0].index == 0
    assert best.usage is not None and both.usage is not None
    assert best.usage.completion_tokens == both.usage.completion_tokens  # both samples are billed
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(**kw, best_of=2, stream=True)
    assert err.value.param == "best_of"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kw", "param"),
    [({"temperature": 101}, "temperature"), ({"max_tokens": 0}, "max_tokens"), ({"logprobs": 6}, "logprobs"),
     ({"logit_bias": {"12": 101}}, "logit_bias"), ({"logit_bias": {"x": 1}}, "logit_bias"),
     ({"logit_bias": {"99999999": -5}}, "logit_bias"), ({"best_of": 1, "n": 2}, "best_of"),
     ({"prompt": [[1, 2, 3]]}, "prompt"), ({"prompt": []}, "prompt"), ({"echo": True, "suffix": "x"}, "echo"),
     ({"max_tokens": 16_384}, "max_tokens")],
)  # fmt: skip
def test_bad_parameters_are_bad_requests_naming_them(
    client: openai.OpenAI, kw: dict[str, Any], param: str
) -> None:
    args: dict[str, Any] = {"model": NAME, "prompt": "x = 1\n", "max_tokens": 4} | kw
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(**args)
    e = err.value
    assert e.status_code == 400 and e.param == param and e.type == "invalid_request_error", e.body  # type: ignore[attr-defined]
    assert isinstance(e.body, dict) and e.body["status"] == 400 and e.body["field"] == param


def test_auth_and_not_found_errors(base: str, client: openai.OpenAI) -> None:
    with openai.OpenAI(base_url=f"{base}/v1", api_key="whk_nope_nope", max_retries=0) as stranger:
        with pytest.raises(openai.AuthenticationError) as auth:
            stranger.completions.create(model=NAME, prompt="x", max_tokens=2)
        assert auth.value.code == "invalid_api_key"  # type: ignore[attr-defined]
        with pytest.raises(openai.AuthenticationError):
            stranger.models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="x", max_tokens=2)
    assert missing.value.code == "model_not_found" and missing.value.param == "model"  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("bigcode/no-such-model")


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models] == [NAME] and models.data[0].object == "model"
    one = client.models.retrieve(NAME)
    assert one.id == NAME and one.owned_by == "whence" and one.created > 0


def test_remote_backend_under_a_v1_openai_base(
    tiny_model: Path, tiny_index: Path, secret: tuple[Path, str], tiny_corpus: Path
) -> None:
    """``whence serve --remote …/v1/openai --remote-model --api-key``: the completions go to
    ``/v1/openai/completions`` with the key, ``logprobs`` and ``logit_bias`` pass through, and the
    server's log-probabilities come back."""
    local = LocalGenerator(str(tiny_model))
    try:
        with serve(local, model_name="tiny-starcoder2", api_key="sk-remote", root="/v1/openai") as upstream:
            args = ["--index", str(tiny_index), "--state", str(secret[0]), "--search-processes", "0",
                    "--remote", f"{url_of(upstream)}/v1/openai", "--remote-model", "tiny-starcoder2",
                    "--api-key", "sk-remote"]  # fmt: skip
            with (
                whence_serve(args) as (_, url),
                openai.OpenAI(base_url=f"{url}/v1", api_key=secret[1], max_retries=0, timeout=300) as c,
            ):
                prompt, rest = _prompt(tiny_corpus)
                out = c.completions.create(model="bigcode/starcoder2-15b", prompt=prompt, max_tokens=60,
                                           temperature=0, logprobs=1, logit_bias={"5": -100})  # fmt: skip
                choice = out.choices[0]
                assert rest.startswith(choice.text) and len(choice.text) > 60
                assert choice.logprobs is not None and "".join(choice.logprobs.tokens or []) == choice.text
                assert _extra(choice, "attribution")["verdict"] == "verbatim"
                assert upstream.requests == ["/v1/openai/completions"]
                assert upstream.bodies[-1]["logprobs"] == 1 and upstream.bodies[-1]["logit_bias"] == {
                    "5": -100.0
                }
                assert upstream.bodies[-1]["model"] == "tiny-starcoder2"
                # Streamed, the server's per-chunk logprobs come through chunk by chunk.
                kw: dict[str, Any] = {"model": "bigcode/starcoder2-15b", "prompt": prompt, "max_tokens": 60}
                chunks = list(c.completions.create(**kw, temperature=0, logprobs=1, stream=True))
                parts = [ch.logprobs for k in chunks for ch in k.choices if ch.logprobs is not None]
                assert [t for p in parts for t in p.tokens or []] == choice.logprobs.tokens
                want = choice.logprobs.token_logprobs
                assert [t for p in parts for t in p.token_logprobs or []] == pytest.approx(want)
                # echo with logprobs: the prompt scored by the server, the completion after it.
                short = "def hls_to_rgb(h, l, s):\n"
                echoed = c.completions.create(model="bigcode/starcoder2-15b", prompt=short, max_tokens=6,
                                              temperature=0, echo=True, logprobs=1).choices[0]  # fmt: skip
                lp = echoed.logprobs
                assert echoed.text.startswith(short) and lp is not None and lp.token_logprobs and lp.tokens
                assert "".join(lp.tokens) == echoed.text and lp.token_logprobs[0] is None
                assert all(v is not None for v in lp.token_logprobs[1:])
                assert upstream.bodies[-2]["echo"] is True and upstream.bodies[-2]["max_tokens"] == 1
    finally:
        local.close()


def test_the_other_error_classes_without_a_model(built_index: Path, tmp_path: Path) -> None:
    """A server without a model: an empty model list, 503 for completions (``InternalServerError``), a
    missing key (``AuthenticationError``), a revoked one (``PermissionDeniedError``) and the rate limit
    (``RateLimitError``), each with OpenAI's type and code."""
    state = State(tmp_path / "state.sqlite")
    _, key = state.create_key("k")
    gone, revoked = state.create_key("revoked")
    state.revoke(gone.id)
    state.close()
    args = ["--index", str(built_index), "--state", str(tmp_path / "state.sqlite"), "--search-processes", "0"]
    env = {"WHENCE_RATE_LIMIT_PER_MINUTE": "1", "WHENCE_RATE_LIMIT_BURST": "3"}
    with whence_serve(args, env) as (_, url):
        with openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as c:
            assert c.models.list().data == []
            with pytest.raises(openai.InternalServerError) as down:
                c.completions.create(model="bigcode/starcoder2-15b", prompt="x", max_tokens=2)
            assert down.value.status_code == 503 and down.value.code == "service_unavailable"  # type: ignore[attr-defined]
            with pytest.raises(openai.NotFoundError):  # no model: none to retrieve
                c.models.retrieve("bigcode/starcoder2-15b")
            with pytest.raises(openai.RateLimitError) as limited:  # the burst of 3 is spent
                c.models.list()
            assert limited.value.code == "rate_limit_exceeded" and limited.value.type == "requests"  # type: ignore[attr-defined]
            assert int(limited.value.response.headers["retry-after"]) >= 1
        # The client insists on a key: the request leaves its Authorization header out.
        with openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as keyless:
            with pytest.raises(openai.AuthenticationError) as no_key:
                keyless.models.list(extra_headers={"Authorization": openai.omit})
            assert "needs an API key" in no_key.value.message
        with (
            openai.OpenAI(base_url=f"{url}/v1", api_key=revoked, max_retries=0) as c,
            pytest.raises(openai.PermissionDeniedError),
        ):
            c.models.list()
