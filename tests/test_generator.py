"""The local generator on a real tiny StarCoder2 that memorised real code, attributed against a real
index: memorised output is flagged with the right file, lines and license, and every parameter does
what it should."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from whence.api.cli import main
from whence.generator.attribution import AttributedGenerator, Attributor
from whence.generator.base import (
    CONTEXT_TOKENS,
    GenerationParams,
    InvalidParameter,
    StopBuffer,
    check_context,
    fim_prompt,
)
from whence.generator.local import FrequencyPenalty, LocalGenerator, PresencePenalty
from whence.index import search
from whence.index.errors import GeneratorUnavailable, InvalidInput
from whence.index.stores import open_store
from whence.index.stores.sqlite import SQLiteStore

GREEDY = GenerationParams(temperature=0, max_new_tokens=200)
# The first test to need the tiny model trains it (a few minutes, once per machine).
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def gen(tiny_model: Path) -> Iterator[LocalGenerator]:
    g = LocalGenerator(str(tiny_model))
    yield g
    g.close()


@pytest.fixture()
def istore(tiny_index: Path) -> Iterator[SQLiteStore]:
    s = open_store(tiny_index, readonly=True)
    assert isinstance(s, SQLiteStore)
    yield s
    s.close()


def lines_of(corpus: Path, rel: str) -> list[str]:
    return (corpus / rel).read_text().splitlines(keepends=True)


def split(corpus: Path, rel: str, at: int) -> tuple[str, str]:
    """A file's first ``at`` lines (the prompt) and the rest (what a memorising model writes).

    The prompt stops before line ``at``'s newline: a prompt ending in whitespace is tokenised
    differently from the same text inside the file (byte-level BPE merges whitespace with what
    follows), which real StarCoder2 prompts share.  The completion's line 1 is therefore the end of
    source line ``at``, and completion line q is source line q + at - 1.
    """
    ls = lines_of(corpus, rel)
    head = "".join(ls[:at])
    return head[:-1], "\n" + "".join(ls[at:])


# -- parameters --------------------------------------------------------------------------------------


def test_defaults_are_the_hosted_apis() -> None:
    p = GenerationParams()
    assert (p.max_new_tokens, p.temperature, p.top_p, p.top_k) == (512, 0.7, 0.9, 0)
    assert (p.repetition_penalty, p.presence_penalty, p.frequency_penalty) == (1.0, 0.0, 0.0)
    assert (p.stop, p.num_responses) == ((), 1)


@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [
        ("max_new_tokens", 0, 1),
        ("max_new_tokens", 100_001, 100_000),
        ("temperature", -0.1, 0),
        ("temperature", 100.5, 100),
        ("top_p", 0, 1e-6),
        ("top_p", 1.01, 1),
        ("top_k", -1, 0),
        ("top_k", 100_000, 99_999),
        ("repetition_penalty", 0.0, 0.01),
        ("repetition_penalty", 5.1, 5),
        ("presence_penalty", -2.1, -2),
        ("presence_penalty", 2.1, 2),
        ("frequency_penalty", -2.5, -2),
        ("frequency_penalty", 2.5, 2),
        ("num_responses", 0, 1),
        ("num_responses", 3, 2),
        ("stop", tuple(f"s{i}" for i in range(17)), tuple(f"s{i}" for i in range(16))),
        ("stop", ("",), ("x",)),
        ("temperature", float("nan"), 1.0),
        ("max_new_tokens", 1.5, 2),
        ("seed", 2**64, 2**64 - 1),  # what torch's generators take (schemathesis found the overflow)
        ("seed", -(2**63) - 1, -(2**63)),
    ],
)
def test_out_of_range_names_the_parameter(name: str, bad: Any, good: Any) -> None:
    with pytest.raises(InvalidParameter) as err:
        GenerationParams(**{name: bad})
    assert err.value.param == name
    assert str(err.value).startswith(f"{name}:")
    assert getattr(GenerationParams(**{name: good}), name) == good


def test_context_limit() -> None:
    check_context(16_000, 384)
    with pytest.raises(InvalidParameter, match=r"max_new_tokens: .*16385 exceeds the 16384-token context"):
        check_context(16_000, 385)


def test_stop_buffer_never_lets_a_stop_string_out() -> None:
    buf = StopBuffer(("\ndef ",))
    sent = ""
    full = ""
    for piece in ["x = 1", "\n", "de", "f", " g():", " pass"]:
        full += piece
        sent += buf.feed(full)
        assert "\ndef" not in sent
        if buf.done:
            break
    assert buf.done and sent + buf.flush() == "x = 1"


# -- the tiny model: memorised code comes back, attributed -------------------------------------------


def test_tokenizer_has_starcoder2_special_tokens(gen: LocalGenerator) -> None:
    ids = gen.tokenizer(fim_prompt("a", "b"), add_special_tokens=False).input_ids
    assert ids[0] == 1 and 3 in ids and ids[-1] == 2
    specials = [
        "<|endoftext|>",
        "<fim_prefix>",
        "<fim_middle>",
        "<fim_suffix>",
        "<fim_pad>",
        "<repo_name>",
        "<file_sep>",
    ]
    assert gen.tokenizer.convert_tokens_to_ids(specials) == list(range(7))
    cfg = gen.model.config
    assert (
        cfg.model_type == "starcoder2"
        and cfg.sliding_window
        and cfg.num_key_value_heads < cfg.num_attention_heads
    )
    assert gen.device == "cpu" and gen.dtype == "float32"


def test_memorised_output_is_attributed_verbatim(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    agen = AttributedGenerator(gen, Attributor(istore))
    out = agen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=120))
    choice = out.choices[0]
    assert len(choice.text) > 200 and rest.startswith(choice.text)
    att = choice.attribution
    assert att is not None and att["verdict"] == "verbatim"
    top = att["matches"][0]
    assert (top["repo"], top["path"]) == ("python/cpython", "colorsys.py")
    assert top["licenses"] == ["PSF-2.0"] and top["license_category"] == "permissive"
    # The completion is the file from line 40 on: the matched source lines are there.
    n_lines = choice.text.count("\n")
    first, last = top["spans"][0]["source_lines"]
    assert first >= 40 and last <= 40 + n_lines and last - first >= 5
    q0, _ = top["spans"][0]["query_lines"]
    assert first - q0 == 39  # output line q is source line q + 39
    assert out.usage.prompt_tokens == gen.count_tokens(prompt)
    assert out.usage.completion_tokens == 120 and choice.finish_reason == "length"


def test_copyleft_policy_withholds_mpl_code_only(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    mpl_prompt, mpl_rest = split(tiny_corpus, "hypothesis/integer.py", 14)
    psf_prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 80)
    params = GenerationParams(temperature=0, max_new_tokens=150)
    annotate = AttributedGenerator(gen, Attributor(istore)).generate(mpl_prompt, params).choices[0]
    assert annotate.attribution is not None and annotate.attribution["verdict"] == "verbatim"
    m = annotate.attribution["matches"][0]
    assert (m["repo"], m["path"], m["licenses"]) == ("HypothesisWorks/hypothesis", "integer.py", ["MPL-2.0"])
    assert m["license_category"] == "weak-copyleft" and mpl_rest.startswith(annotate.text)

    strict = AttributedGenerator(gen, Attributor(istore, policy="block-copyleft"))
    blocked = strict.generate(mpl_prompt, params).choices[0]
    assert (blocked.text, blocked.finish_reason) == ("", "content_filter")
    assert blocked.attribution == annotate.attribution
    allowed = strict.generate(psf_prompt, params).choices[0]
    assert allowed.text and allowed.finish_reason == "length"
    assert allowed.attribution is not None and allowed.attribution["verdict"] == "verbatim"

    any_ = AttributedGenerator(gen, Attributor(istore, policy="block-any")).generate(psf_prompt, params)
    assert any_.choices[0].finish_reason == "content_filter" and any_.choices[0].text == ""


def test_unmatched_output_gets_a_none_attribution(gen: LocalGenerator, istore: SQLiteStore) -> None:
    params = GenerationParams(temperature=0, max_new_tokens=8)
    out = AttributedGenerator(gen, Attributor(istore, policy="block-any")).generate("zq", params)
    att = out.choices[0].attribution
    assert att is not None and att["verdict"] == "none" and att["matches"] == []
    assert out.choices[0].finish_reason != "content_filter"


def test_unknown_policy_is_refused(istore: SQLiteStore) -> None:
    with pytest.raises(InvalidParameter, match="policy"):
        Attributor(istore, policy="block-some")


# -- every parameter changes behaviour the way it should ---------------------------------------------


def test_greedy_is_deterministic_and_num_responses_gives_two(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 80)
    params = GenerationParams(temperature=0, max_new_tokens=60, num_responses=2)
    a = gen.generate(prompt, params)
    b = gen.generate(prompt, params)
    assert len(a.choices) == 2 and a.choices[0].text == a.choices[1].text == b.choices[0].text
    assert a.usage.completion_tokens == 120


def test_sampling_is_seeded_and_temperature_spreads(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 80)
    hot = GenerationParams(temperature=5.0, top_p=1.0, max_new_tokens=40, num_responses=2, seed=7)
    a = gen.generate(prompt, hot)
    assert a.choices[0].text != a.choices[1].text  # two samples of a flat distribution
    assert [c.text for c in gen.generate(prompt, hot).choices] == [c.text for c in a.choices]
    greedy = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=40)).choices[0].text
    assert a.choices[0].text != greedy
    cold = GenerationParams(temperature=0.05, top_p=1.0, max_new_tokens=40, seed=3)
    assert gen.generate(prompt, cold).choices[0].text == greedy  # near-zero temperature is near-greedy
    # Next to zero, dividing the logits by it overflowed to NaN probabilities (found by schemathesis):
    # it samples greedily instead, for any seed, which is the limit.
    for t in (5e-324, 1e-30, 1e-6):
        tiny = GenerationParams(temperature=t, max_new_tokens=40, num_responses=2, seed=11)
        assert [c.text for c in gen.generate(prompt, tiny).choices] == [greedy, greedy]


def test_top_k_1_and_tiny_top_p_are_greedy(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 20)
    greedy = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=40)).choices[0].text
    for params in (
        GenerationParams(temperature=3.0, top_p=1.0, top_k=1, max_new_tokens=40, seed=1),
        GenerationParams(temperature=3.0, top_p=1e-6, max_new_tokens=40, seed=1),
    ):
        assert gen.generate(prompt, params).choices[0].text == greedy
    loose = GenerationParams(temperature=3.0, top_p=1.0, top_k=50, max_new_tokens=40, seed=1)
    assert gen.generate(prompt, loose).choices[0].text != greedy


def test_stop_strings_cut_before_the_stop(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    stop = "\ndef "
    assert stop in rest
    for stream in (False, True):
        params = GenerationParams(temperature=0, max_new_tokens=300, stop=("@@never@@", stop))
        if stream:
            events = list(gen.stream(prompt, params))
            text = "".join(e.text for e in events if e.kind == "text")
            finish = next(e for e in events if e.kind == "finish")
            reason = finish.finish_reason
        else:
            choice = gen.generate(prompt, params).choices[0]
            text, reason = choice.text, choice.finish_reason
        assert text == rest[: rest.index(stop)]
        assert reason == "stop"


def test_end_of_file_stops_with_the_end_of_text_token(gen: LocalGenerator, tiny_corpus: Path) -> None:
    ls = lines_of(tiny_corpus, "cpython/colorsys.py")
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", len(ls) - 8)
    choice = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=400)).choices[0]
    assert choice.text == rest and choice.finish_reason == "stop"
    assert choice.tokens == gen.count_tokens(rest) + 1  # the end-of-text token counts


def test_max_new_tokens_caps_the_output(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    out = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=7))
    assert out.usage.completion_tokens == 7 and out.choices[0].finish_reason == "length"
    assert gen.count_tokens(out.choices[0].text) <= 8


def test_fim_prompt_uses_starcoder2_tokens(gen: LocalGenerator) -> None:
    text = fim_prompt("def f(x):\n", "    return y\n")
    assert text == "<fim_prefix>def f(x):\n<fim_suffix>    return y\n<fim_middle>"
    ids = gen.tokenizer(text, add_special_tokens=False).input_ids
    assert ids[0] == 1 and ids[-1] == 2 and ids.count(3) == 1


def test_fim_fills_the_middle(gen: LocalGenerator, tiny_corpus: Path) -> None:
    # Every 6th line of both files: 4 lines of prefix, a 2-line gap, 3 lines of suffix.  A memorising
    # model continues a prefix with the file either way; filling the middle means writing the gap and
    # then *ending* (the end-of-text token) where the suffix begins, which plain continuation does not.
    cases = []
    for rel in ("cpython/colorsys.py", "hypothesis/integer.py"):
        ls = lines_of(tiny_corpus, rel)
        for a in range(12, len(ls) - 8, 6):
            middle = "".join(ls[a : a + 2])
            if middle.strip():
                cases.append(("".join(ls[a - 4 : a]), middle, "".join(ls[a + 2 : a + 5])))
    params = GenerationParams(temperature=0, max_new_tokens=60)
    filled = [gen.generate(p, params, suffix=s).choices[0] for p, _, s in cases]
    plain = [gen.generate(p, params).choices[0] for p, _, _ in cases]
    n = len(cases)
    assert n >= 30
    ended = sum(c.finish_reason == "stop" for c in filled)
    assert ended >= 0.8 * n and sum(c.finish_reason == "stop" for c in plain) <= 0.3 * n
    # The middle is written: its first line in most cases, the whole gap exactly in some.
    first_line = sum(
        c.text.startswith(m.splitlines(keepends=True)[0]) for c, (_, m, _) in zip(filled, cases, strict=True)
    )
    exact = sum(c.text == m for c, (_, m, _) in zip(filled, cases, strict=True))
    assert first_line >= 0.25 * n and exact >= 0.05 * n, (first_line, exact, n)
    # and it is short: it ends by the end of the suffix it was shown, not at the end of the file (plain
    # continuation ends there far less often: see the count of plain completions that stop, above).
    within = sum(len(c.text) <= len(m) + len(s) for c, (_, m, s) in zip(filled, cases, strict=True))
    assert within >= 0.9 * n, (within, n)


def _greedy_with(gen: LocalGenerator, prompt: str, n: int, penalize: Any) -> list[int]:
    """Greedy decoding written out here, independently of the generator: ``penalize(logits, prompt,
    generated)`` adjusts each step's logits the way the penalty's definition says."""
    ids = gen.tokenizer(prompt, add_special_tokens=False).input_ids
    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            logits = gen.model(input_ids=torch.tensor([ids + out])).logits[0, -1].float()
            nxt = int(penalize(logits.clone(), ids, out).argmax())
            if nxt == gen.eos_token_id:
                break
            out.append(nxt)
    return out


#: Prompts that are not in the tiny model's corpus: it strings together pieces it knows, less surely.
PENALTY_PROMPTS = ["x = 1\ny = 2\nz", "print(", "#", "s = '", "0", "a", "return "]


def _presence(p: float) -> Any:
    def penalize(logits: torch.Tensor, _prompt: list[int], generated: list[int]) -> torch.Tensor:
        for t in set(generated):  # OpenAI: once per token that occurs in the generated part
            logits[t] -= p
        return logits

    return penalize


def _frequency(f: float) -> Any:
    def penalize(logits: torch.Tensor, _prompt: list[int], generated: list[int]) -> torch.Tensor:
        for t in set(generated):  # OpenAI: times the token's count in the generated part
            logits[t] -= f * generated.count(t)
        return logits

    return penalize


def _repetition(r: float) -> Any:
    def penalize(logits: torch.Tensor, prompt: list[int], generated: list[int]) -> torch.Tensor:
        for t in set(prompt + generated):  # CTRL's rule, as transformers has it: prompt included
            logits[t] = logits[t] / r if logits[t] > 0 else logits[t] * r
        return logits

    return penalize


@pytest.mark.parametrize(
    ("kw", "penalize"),
    [
        ({"presence_penalty": 2.0}, _presence(2.0)),
        ({"frequency_penalty": 2.0}, _frequency(2.0)),
        ({"frequency_penalty": -2.0}, _frequency(-2.0)),
        ({"repetition_penalty": 3.0}, _repetition(3.0)),
    ],
    ids=["presence", "frequency", "negative-frequency", "repetition"],
)
def test_penalties_change_what_is_generated_as_defined(
    gen: LocalGenerator, kw: dict[str, float], penalize: Any
) -> None:
    """Each penalty, end to end through the generator, writes exactly what greedy decoding with the
    penalty's own definition writes, and that differs from what is written without it (so the penalty
    is applied, to the right tokens, by the right amount).  Greedy, so that no sampling noise or
    machine can blur it; the prompts are not in the corpus, where the model is least sure."""
    n = 48
    for prompt in PENALTY_PROMPTS:  # the first where the penalty makes a difference
        plain = _greedy_with(gen, prompt, n, lambda logits, _p, _g: logits)
        want = _greedy_with(gen, prompt, n, penalize)
        if want != plain:
            break
    else:
        raise AssertionError(f"{kw} changes nothing on any of {PENALTY_PROMPTS}: the model is too sure")
    got = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=n, **kw)).choices[0]
    assert got.text == gen.tokenizer.decode(want, skip_special_tokens=True), (kw, prompt)
    without = gen.generate(prompt, GenerationParams(temperature=0, max_new_tokens=n)).choices[0]
    assert without.text == gen.tokenizer.decode(plain, skip_special_tokens=True)


def test_penalty_processors_do_the_openai_arithmetic() -> None:
    ids = torch.tensor([[9, 9, 1, 2, 2, 2]])  # prompt [9, 9], generated [1, 2, 2, 2]
    scores = torch.zeros(1, 4)
    assert PresencePenalty(0.5, 2)(ids, scores).tolist() == [[0.0, -0.5, -0.5, 0.0]]
    assert FrequencyPenalty(0.5, 2)(ids, scores).tolist() == [[0.0, -0.5, -1.5, 0.0]]
    assert FrequencyPenalty(-1.0, 2)(ids, scores).tolist() == [[0.0, 1.0, 3.0, 0.0]]
    assert PresencePenalty(1.0, 6)(ids, scores).tolist() == [[0.0, 0.0, 0.0, 0.0]]


def test_context_overflow_is_a_clear_error(gen: LocalGenerator) -> None:
    with pytest.raises(InvalidParameter, match="16384-token context") as err:
        list(gen.stream("def f():\n", GenerationParams(max_new_tokens=CONTEXT_TOKENS)))
    assert err.value.param == "max_new_tokens"
    with pytest.raises(InvalidInput, match="prompt"):
        gen.generate("", GREEDY)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GeneratorUnavailable, match="cannot load the model"):
        LocalGenerator(str(tmp_path))


# -- streaming ---------------------------------------------------------------------------------------


def test_stream_matches_generate_and_reports_early(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    params = GenerationParams(temperature=0, max_new_tokens=250)
    agen = AttributedGenerator(gen, Attributor(istore), check_chars=64)
    whole = agen.generate(prompt, params).choices[0]
    events = list(agen.stream(prompt, params))
    kinds = [e.kind for e in events]
    assert kinds[-1] == "usage" and kinds.count("finish") == 1
    early = kinds.index("attribution")
    streamed_before = "".join(e.text for e in events[:early] if e.kind == "text")
    text = "".join(e.text for e in events if e.kind == "text")
    assert text == whole.text
    # The match was reported while text was still coming, and before the finish.
    assert 0 < len(streamed_before) < len(text) and early < kinds.index("finish")
    assert events[early].attribution is not None
    m = events[early].attribution["matches"][0]
    assert (m["path"], m["verdict"]) == ("colorsys.py", "verbatim")
    # Window attributions count output lines from the completion's first line.
    assert m["spans"][0]["source_lines"][0] - m["spans"][0]["query_lines"][0] == 39
    finish = events[kinds.index("finish")]
    assert finish.attribution == whole.attribution


def test_streaming_under_a_blocking_policy_leaks_no_attributable_span(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, _ = split(tiny_corpus, "hypothesis/integer.py", 14)
    agen = AttributedGenerator(gen, Attributor(istore, policy="block-copyleft"), check_chars=48)
    events = list(agen.stream(prompt, GenerationParams(temperature=0, max_new_tokens=250)))
    released = "".join(e.text for e in events if e.kind == "text")
    finish = next(e for e in events if e.kind == "finish")
    assert finish.finish_reason == "content_filter"
    assert finish.attribution is not None and finish.attribution["verdict"] == "verbatim"
    assert search.search(istore, released).verdict == "none"
    usage = events[-1].usage
    assert usage is not None and usage.completion_tokens == 250


# -- the CLI -----------------------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["generate", *args])


def test_cli_json(tiny_model: Path, tiny_index: Path, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    res = run_cli(
        prompt, "--model", str(tiny_model), "--index", str(tiny_index), "--temperature", "0",
        "--max-new-tokens", "100", "--num-responses", "2", "--format", "json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"choices", "usage"} and set(data["usage"]) == {"prompt_tokens", "completion_tokens"}
    assert len(data["choices"]) == 2
    for c in data["choices"]:
        assert set(c) == {"text", "finish_reason", "attribution"}
        assert rest.startswith(c["text"]) and c["attribution"]["verdict"] == "verbatim"
        assert c["attribution"]["matches"][0]["path"] == "colorsys.py"
    assert data["usage"]["completion_tokens"] == 200


def test_cli_text_stream_and_policy_exit(tiny_model: Path, tiny_index: Path, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "hypothesis/integer.py", 14)
    common = [
        "--model",
        str(tiny_model),
        "--index",
        str(tiny_index),
        "--temperature",
        "0",
        "--max-new-tokens",
        "120",
    ]
    res = run_cli(prompt, *common, "--stream")
    assert res.exit_code == 0, res.output
    assert rest.startswith(res.stdout.rstrip("\n")) and len(res.stdout) > 100
    assert "HypothesisWorks/hypothesis integer.py" in res.stderr and "MPL-2.0" in res.stderr
    blocked = run_cli(prompt, *common, "--policy", "block-copyleft")
    assert blocked.exit_code == 1 and "withheld" in blocked.stderr and blocked.stdout == ""
    lines = run_cli(prompt, *common, "--stream", "--format", "json").stdout.splitlines()
    events = [json.loads(x) for x in lines[:-1]]
    assert {e["event"] for e in events} == {"text", "attribution", "finish"}
    assert json.loads(lines[-1])["choices"][0]["attribution"]["verdict"] == "verbatim"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--temperature", "101"),
        ("--top-p", "0"),
        ("--top-k", "100000"),
        ("--max-new-tokens", "0"),
        ("--repetition-penalty", "6"),
        ("--presence-penalty", "-3"),
        ("--frequency-penalty", "2.5"),
        ("--num-responses", "3"),
    ],
)
def test_cli_out_of_range_exits_2_naming_the_option(tiny_index: Path, option: str, value: str) -> None:
    res = run_cli("def f():", "--index", str(tiny_index), option, value)
    assert res.exit_code == 2
    assert option in res.stderr and "must be" in res.stderr


def test_cli_context_overflow_and_missing_index(tiny_model: Path, tiny_index: Path, tmp_path: Path) -> None:
    res = run_cli(
        "def f():", "--model", str(tiny_model), "--index", str(tiny_index), "--max-new-tokens", "16384"
    )
    assert res.exit_code == 2 and "--max-new-tokens" in res.stderr and "context" in res.stderr
    res = run_cli("def f():", "--model", str(tiny_model), "--index", str(tmp_path / "none.sqlite"))
    assert res.exit_code == 2 and "error:" in res.stderr
    res = run_cli("def f():", "--model", "x", "--remote", "http://127.0.0.1:9", "--index", str(tiny_index))
    assert res.exit_code == 2 and "--model and --remote" in res.stderr
