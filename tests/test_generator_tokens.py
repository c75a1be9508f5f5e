"""The local backend's per-token events (``StreamEvent.token_id``, ``logprob``, ``special``, ``token``,
``top_logprobs``) on the tiny StarCoder2, through a blocking policy too, and the parameters OpenAI adds
(``logprobs``, ``logit_bias``, ``best_of``) checked at the generator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_generator import split
from whence.generator.attribution import AttributedGenerator, Attributor
from whence.generator.base import GenerationParams, InvalidParameter, StreamEvent, check_logit_bias
from whence.generator.local import LocalGenerator
from whence.index.stores import open_store

pytestmark = pytest.mark.timeout(1200)  # the first run on a machine trains the tiny model


@pytest.fixture(scope="module")
def gen(tiny_model: Path) -> Iterator[LocalGenerator]:
    g = LocalGenerator(str(tiny_model))
    yield g
    g.close()


def _tokens(events: list[StreamEvent], index: int = 0) -> list[StreamEvent]:
    return [e for e in events if e.kind == "text" and e.index == index and e.token_id is not None]


def test_one_text_event_per_sampled_token(gen: LocalGenerator) -> None:
    params = GenerationParams(temperature=0, max_new_tokens=40, num_responses=2, logprobs=2)
    events = list(gen.stream("def rgb_to_hls(r, g, b):\n", params))
    usage = events[-1].usage
    assert usage is not None
    per_choice = [_tokens(events, i) for i in range(2)]
    assert sum(len(t) for t in per_choice) == usage.completion_tokens  # the end-of-text token included
    for toks in per_choice:
        text = "".join(e.text for e in events if e.kind == "text" and e.index == toks[0].index)
        assert "".join(e.token or "" for e in toks) == text  # no stop string: every token's text is out
        for e in toks:
            assert e.logprob is not None and e.logprob <= 0 and math.isfinite(e.logprob)
            assert e.top_logprobs is not None and 1 <= len(e.top_logprobs) <= 3
            assert e.special == (e.token_id in gen.special_ids)
            if not e.special:  # greedy: the chosen token is the most likely one
                assert max(e.top_logprobs.values()) == pytest.approx(e.logprob)
    ends = [e for e in events if e.kind == "finish"]
    for end in ends:
        if end.finish_reason == "stop":  # the end-of-text token was reported, as a special one
            last = _tokens(events, end.index)[-1]
            assert last.token_id == gen.eos_token_id and last.special and last.token == ""


def test_a_stop_string_holds_text_back_but_not_tokens(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    stop = rest.split("\n", 3)[2].strip()[:6]
    events = list(gen.stream(prompt, GenerationParams(temperature=0, max_new_tokens=100, stop=(stop,))))
    text = "".join(e.text for e in events if e.kind == "text")
    tokens = "".join(e.token or "" for e in _tokens(events))
    assert stop not in text and stop in tokens and tokens.startswith(text)
    held = [e for e in _tokens(events) if e.text == "" and e.token]
    assert held  # tokens whose text waited while the stop string might be starting


def test_a_blocking_policy_releases_the_token_events_as_they_came(
    gen: LocalGenerator, tiny_index: Path
) -> None:
    prompt = "def rgb_to_hls(r, g, b):\n"  # colorsys: PSF, permissive, so nothing is withheld
    params = GenerationParams(temperature=0, max_new_tokens=60, logprobs=1)
    plain = [e for e in gen.stream(prompt, params) if e.kind == "text"]
    with open_store(tiny_index, readonly=True) as store:
        strict = AttributedGenerator(gen, Attributor(store, policy="block-copyleft"), check_chars=32)
        held = [e for e in strict.stream(prompt, params) if e.kind == "text"]
    key = [(e.text, e.token_id, e.logprob, e.token) for e in plain]
    assert [(e.text, e.token_id, e.logprob, e.token) for e in held] == key


def test_logit_bias_and_best_of_at_the_generator(gen: LocalGenerator) -> None:
    prompt = "def rgb_to_hls(r, g, b):\n"
    free = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=10, logprobs=0))
    first = free.choices[0].logprobs[0].token_id  # type: ignore[index]
    assert first is not None
    banned = gen.generate(
        prompt, GenerationParams(temperature=0, max_new_tokens=10, logprobs=0, logit_bias=((first, -100),))
    )
    assert first not in [t.token_id for t in banned.choices[0].logprobs or []]
    with pytest.raises(InvalidParameter) as err:
        gen.generate(prompt, GenerationParams(max_new_tokens=2, logit_bias=((10**9, 1.0),)))
    assert err.value.param == "logit_bias"
    best = gen.generate(prompt, GenerationParams(max_new_tokens=8, best_of=3, seed=5))
    assert len(best.choices) == 1 and best.choices[0].index == 0 and best.choices[0].logprobs is None
    with pytest.raises(InvalidParameter):
        gen.stream(prompt, GenerationParams(max_new_tokens=2, best_of=2))


@pytest.mark.parametrize(
    "bias",
    [{"-1": 1}, {"x": 1}, {"1": 101}, {"1": float("nan")}, {"1": "1"}, {True: 1}, {"1.5": 1},
     {str(i): 1 for i in range(301)}, [1, 2], "12"],
)  # fmt: skip
def test_bad_logit_bias_is_named(bias: object) -> None:
    with pytest.raises(InvalidParameter) as err:
        check_logit_bias(bias)
    assert err.value.param == "logit_bias"


def test_best_of_below_n_and_logprobs_out_of_range_are_named() -> None:
    with pytest.raises(InvalidParameter) as err:
        GenerationParams(num_responses=2, best_of=1)
    assert err.value.param == "best_of"
    with pytest.raises(InvalidParameter) as err:
        GenerationParams(logprobs=6)
    assert err.value.param == "logprobs"
    assert check_logit_bias({"7": -100, "3": 2.5}) == ((3, 2.5), (7, -100.0))
