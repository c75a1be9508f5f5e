"""Attribution in the prompt's context and the ``regenerate`` policy, on the real tiny StarCoder2 (which
memorised real, licensed code) against a real index holding that code.

A completion that continues a function the prompt began is attributed even when it alone holds less
than a minimum span of the copy, each span showing its part in the prompt, in the completion and in a
suffix; a match the model did not write is left out and withholds nothing; ``regenerate`` returns a
clean completion where ``block-any`` withholds one, with the attribution of each withheld try.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from click.testing import CliRunner

from tests.openai_server import serve, url_of
from tests.servers import whence_serve
from tests.test_generator import split
from whence.api.settings import Settings
from whence.api.state import State
from whence.cli import main
from whence.generator.attribution import AttributedGenerator, Attributor
from whence.generator.base import SEED_MAX, SEED_MIN, GenerationParams, InvalidParameter
from whence.generator.context import MIN_COMPLETION_TOKENS, context_after, context_before
from whence.generator.local import LocalGenerator
from whence.generator.regenerate import SequencePenalty, next_seed, penalty, takes_penalty
from whence.generator.remote import RemoteGenerator
from whence.index import fingerprint as fp
from whence.index import ingest, search
from whence.index.stores import open_store
from whence.index.stores.sqlite import SQLiteStore

pytestmark = pytest.mark.timeout(1200)

#: colorsys.py split inside ``yiq_to_rgb``: 20 greedy tokens continue the function, too few to
#: attribute alone (see the first test).
CONTINUE_AT, CONTINUE_TOKENS = 60, 20


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


def greedy(n: int) -> GenerationParams:
    return GenerationParams(temperature=0, max_new_tokens=n)


# -- the context -------------------------------------------------------------------------------------


def test_context_is_the_prompts_end_from_a_line_start() -> None:
    prompt = "".join(f"line_{i} = {i}\n" for i in range(100))  # 12-13 characters a line
    before = context_before(prompt, 150)
    assert prompt.endswith(before) and before.startswith("line_") and 150 <= len(before) < 150 + 14
    assert context_before(prompt, 0) == "" and context_before("", 150) == ""
    long_line = "x = '" + "a" * 1000 + "'"  # no line start near: the last 150 characters
    assert context_before(long_line, 150) == long_line[-150:]
    after = context_after(prompt, 150)
    assert prompt.startswith(after) and after.endswith("\n") and 150 <= len(after) < 150 + 14
    assert context_after(None, 150) == ""


def test_a_continued_function_is_attributed_with_the_prompts_part(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", CONTINUE_AT)
    choice = AttributedGenerator(gen, Attributor(istore)).generate(prompt, greedy(CONTINUE_TOKENS)).choices[0]
    # The model continued the indexed file, but too little of it to attribute on its own.
    assert rest.startswith(choice.text) and choice.text.count("\n") >= 2
    assert search.search(istore, choice.text).verdict == "none"
    alone = Attributor(istore, context_chars=0).attribute(choice.text)
    assert alone["verdict"] == "none" and alone["context"]["prompt_chars"] == 0
    att = choice.attribution
    assert att is not None and att["verdict"] == "verbatim"
    m = att["matches"][0]
    assert (m["repo"], m["path"], m["licenses"]) == ("python/cpython", "colorsys.py", ["PSF-2.0"])
    span = m["spans"][0]
    # The span lies in both: the prompt's last lines and the completion's first ones.  The prompt is
    # the file's beginning, so its lines are the file's; completion line q is file line q + 59.
    p0, p1 = span["prompt_lines"]
    q0, q1 = span["query_lines"]
    assert p1 == CONTINUE_AT and p0 < p1 and span["prompt_source_lines"] == [p0, p1]
    assert span["source_lines"] == [q0 + CONTINUE_AT - 1, q1 + CONTINUE_AT - 1]
    assert q1 == choice.text.count("\n") + 1 or q1 == choice.text.count("\n")
    assert span["prompt_tokens"] > 0 and span["completion_tokens"] >= MIN_COMPLETION_TOKENS
    assert span["prompt_tokens"] + span["completion_tokens"] == span["tokens"]
    assert span["suffix_lines"] is None and span["suffix_tokens"] == 0
    assert (
        m["completion_tokens"] == span["completion_tokens"] and m["context_tokens"] == span["prompt_tokens"]
    )
    assert m["url"].endswith(f"#L{q0 + CONTINUE_AT - 1}-L{q1 + CONTINUE_AT - 1}")
    context = att["context"]
    assert prompt.endswith(prompt[-context["prompt_chars"] :]) and context["prompt_chars"] >= 150
    assert context["prompt_lines"][1] == CONTINUE_AT
    # Under block-any the completion is withheld for the copy it finished.
    strict = AttributedGenerator(gen, Attributor(istore, policy="block-any"))
    blocked = strict.generate(prompt, greedy(CONTINUE_TOKENS)).choices[0]
    assert (blocked.text, blocked.finish_reason) == ("", "content_filter")


def test_fill_in_the_middle_is_attributed_with_the_suffixs_part(
    gen: LocalGenerator,
    istore: SQLiteStore,
    tiny_corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = (tiny_corpus / "cpython/colorsys.py").read_text().splitlines(keepends=True)
    a = 74  # the first line of rgb_to_hls: the model writes its first two lines
    prefix, middle, suffix = (
        "".join(lines[a - 6 : a]),
        "".join(lines[a : a + 2]),
        "".join(lines[a + 2 : a + 8]),
    )
    # Two lines (19 tokens) that colorsys.py alone holds: found alone through the k-gram that begins
    # their first line (the file is under fp.LINE_TOKENS).  In an index without such keys (as a file of
    # 2,048 tokens and more whose lines are not sparse), the middle alone is found by nothing, and the
    # suffix's part attributes it.
    assert search.search(istore, middle).verdict == "verbatim"
    monkeypatch.setattr(fp, "LINE_TOKENS", 0)
    monkeypatch.setattr(fp, "SPARSE_LINES", 0)
    with open_store(tmp_path / "index.sqlite", create=True) as store:
        ingest.build(
            store,
            ingest.sources([tiny_corpus / "cpython"], repo="python/cpython", licenses=["PSF-2.0"]),
            workers=1,
        )
    own = open_store(tmp_path / "index.sqlite", readonly=True)
    choice = AttributedGenerator(gen, Attributor(own)).generate(prefix, greedy(40), suffix=suffix).choices[0]
    assert choice.text == middle and search.search(own, middle).verdict == "none"
    own.close()
    att = choice.attribution
    assert att is not None and att["verdict"] == "verbatim" and att["context"]["suffix_chars"] > 0
    span = att["matches"][0]["spans"][0]
    assert span["query_lines"] == [1, 2] and span["source_lines"] == [a + 1, a + 2]
    s0, s1 = span["suffix_lines"]
    assert s0 == 1 and span["suffix_source_lines"] == [a + 2 + s0, a + 2 + s1]
    assert span["completion_tokens"] >= MIN_COMPLETION_TOKENS and span["suffix_tokens"] > 0


def test_a_match_wholly_in_the_prompt_is_not_the_completions(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 80)
    unrelated = "\nprint('hello')\n"
    strict = Attributor(istore, policy="block-any", context_chars=2000)
    # The text searched holds a long stretch of the file, all of it the user's own prompt.
    assert search.search(istore, prompt[-2000:] + unrelated).verdict == "verbatim"
    att = strict.attribute(unrelated, prompt=prompt)
    assert att["verdict"] == "none" and att["matches"] == [] and not strict.blocks(att)
    # A model that adds a token or two to the prompt's copy did not write the copy: nothing is withheld.
    agen = AttributedGenerator(gen, strict)
    choice = agen.generate(prompt, greedy(2)).choices[0]
    joined = search.search(istore, prompt[-2000:] + choice.text)
    assert joined.verdict == "verbatim" and choice.text
    assert choice.finish_reason == "length" and choice.attribution is not None
    assert choice.attribution["verdict"] == "none"


def test_streaming_checks_with_the_prompt_and_releases_only_clean_text(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", CONTINUE_AT)
    params = greedy(60)
    whole = AttributedGenerator(gen, Attributor(istore)).generate(prompt, params).choices[0]
    events = list(AttributedGenerator(gen, Attributor(istore), check_chars=16).stream(prompt, params))
    early = next(e for e in events if e.kind == "attribution")
    assert early.attribution is not None and early.attribution["matches"][0]["spans"][0]["prompt_lines"]
    finish = next(e for e in events if e.kind == "finish")
    assert finish.attribution == whole.attribution
    strict = Attributor(istore, policy="block-any")
    events = list(AttributedGenerator(gen, strict, check_chars=16).stream(prompt, params))
    released = "".join(e.text for e in events if e.kind == "text")
    finish = next(e for e in events if e.kind == "finish")
    assert finish.finish_reason == "content_filter" and len(released) < len(whole.text)
    # What was sent holds no attributable span, not even with the prompt around it.
    assert not strict.blocks(strict.attribute(released, prompt=prompt))


def test_odd_characters_in_the_prompt_never_fail_the_attribution(
    istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", CONTINUE_AT)
    completion = rest[:120]
    want = Attributor(istore).attribute(completion, prompt=prompt)
    assert want["verdict"] == "verbatim"
    for odd in ("\x00", "\ud800"):  # binary to a search; not UTF-8
        hostile = prompt + "  # " + odd + "\n"  # in the context, on a comment line of its own
        att = Attributor(istore).attribute(completion, prompt=hostile, suffix="x = 1" + odd)
        assert att["verdict"] == "verbatim" and att["matches"][0]["path"] == "colorsys.py"
        assert att["context"]["prompt_chars"] > 0 and att["context"]["suffix_chars"] == 6


def test_bad_context_settings_are_refused(istore: SQLiteStore) -> None:
    for kw in ({"context_chars": -1}, {"context_chars": 4097}, {"min_completion_tokens": 0}):
        with pytest.raises(InvalidParameter):
            Attributor(istore, **kw)  # type: ignore[arg-type]


# -- regenerate --------------------------------------------------------------------------------------


def test_sequence_penalty_forbids_what_followed_a_copied_stretch() -> None:
    pen = SequencePenalty([[5, 6, 7, 8, 9]], prefix=3)
    assert len(pen) == 2  # 5 6 7 -> 8, 6 7 8 -> 9
    ids = torch.tensor([[1, 5, 6, 7], [1, 6, 7, 8], [5, 6, 7, 1]])
    out = pen(ids, torch.zeros(3, 10))
    assert out[0, 8] == float("-inf") and out[1, 9] == float("-inf")
    assert torch.isfinite(out[0, :8]).all() and torch.isfinite(out[1, :9]).all()
    assert torch.isfinite(out[2]).all()


def test_seeds_of_the_tries_differ_and_stay_in_range() -> None:
    assert next_seed(None, 0, 1) is None
    seeds = {next_seed(s, c, t) for s in (SEED_MIN, 0, 7, SEED_MAX) for c in (0, 1) for t in (1, 2, 3)}
    assert len(seeds) == 24 and all(SEED_MIN <= s <= SEED_MAX for s in seeds if s is not None)
    assert next_seed(7, 0, 1) == next_seed(7, 0, 1) != next_seed(7, 1, 1)


def test_the_penalty_reaches_the_local_model(gen: LocalGenerator, tiny_corpus: Path) -> None:
    prompt, rest = split(tiny_corpus, "cpython/colorsys.py", 40)
    plain = gen.generate(prompt, greedy(30)).choices[0].text
    assert rest.startswith(plain) and takes_penalty(gen)
    kw = penalty(gen, [plain])
    steered = gen.generate(prompt, greedy(30), **kw).choices[0].text
    assert steered != plain
    ids = gen.tokenizer(steered, add_special_tokens=False).input_ids
    banned = kw["extra_processors"][0].banned
    assert not any(ids[i] in banned.get(tuple(ids[i - 3 : i]), ()) for i in range(3, len(ids)))


def test_regenerate_returns_a_clean_completion_where_block_any_withholds(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    params = greedy(40)
    withheld = AttributedGenerator(gen, Attributor(istore, policy="block-any")).generate(prompt, params)
    assert withheld.choices[0].finish_reason == "content_filter" and withheld.choices[0].text == ""
    first = withheld.choices[0].attribution
    assert first is not None

    out = AttributedGenerator(gen, Attributor(istore, policy="regenerate")).generate(prompt, params)
    choice = out.choices[0]
    assert choice.text and choice.finish_reason == "length"
    att = choice.attribution
    assert att is not None and att["verdict"] not in search.ATTRIBUTING
    # Clean by an independent check too: the text with its prompt, under block-any.
    assert not Attributor(istore, policy="block-any").blocks(
        Attributor(istore).attribute(choice.text, prompt=prompt)
    )
    regenerated = att["regenerated"]
    assert regenerated["clean"] and regenerated["tries"] == 2
    assert [w["try"] for w in regenerated["withheld"]] == [1]
    assert regenerated["withheld"][0]["attribution"] == first  # what block-any withheld, and why
    assert first["matches"][0]["path"] == "colorsys.py"
    assert out.usage.completion_tokens == 80  # both tries
    # Streamed: the 40 tokens are checked once, at the end, so the retry starts afresh as above.
    events = list(AttributedGenerator(gen, Attributor(istore, policy="regenerate")).stream(prompt, params))
    text = "".join(e.text for e in events if e.kind == "text")
    finish = next(e for e in events if e.kind == "finish")
    assert text == choice.text and finish.finish_reason == "length"
    assert finish.attribution is not None and finish.attribution["regenerated"] == regenerated
    usage = events[-1].usage
    assert events[-1].kind == "usage" and usage is not None and usage.completion_tokens == 80


def test_regenerate_withholds_when_every_try_copies(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    params = greedy(100)
    agen = AttributedGenerator(gen, Attributor(istore, policy="regenerate"), regenerate_tries=1)
    choice = agen.generate(prompt, params).choices[0]
    assert (choice.text, choice.finish_reason) == ("", "content_filter")
    att = choice.attribution
    assert att is not None and att["verdict"] == "verbatim"
    regenerated = att["regenerated"]
    assert regenerated["tries"] == 2 and not regenerated["clean"]
    assert all(w["attribution"]["verdict"] == "verbatim" for w in regenerated["withheld"])
    # The second try copied something else than the first (the penalty forbade the first copy).
    first, second = (w["attribution"]["matches"][0] for w in regenerated["withheld"])
    assert (first["path"], first["spans"][0]["source_lines"]) != (
        second["path"],
        second["spans"][0]["source_lines"],
    )
    none = AttributedGenerator(gen, Attributor(istore, policy="regenerate"), regenerate_tries=0)
    once = none.generate(prompt, params).choices[0]
    assert once.finish_reason == "content_filter"
    assert once.attribution is not None and once.attribution["regenerated"]["tries"] == 1
    with pytest.raises(InvalidParameter, match="regenerate_tries"):
        AttributedGenerator(gen, Attributor(istore), regenerate_tries=11)


def test_regenerate_streamed_keeps_sent_text_as_the_beginning(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    """Checked often, the stream sends clean text before a copy shows: every later try continues that
    text (its prompt is the prompt and that text), and what was sent never holds an attributable span,
    whether a later try comes out clean or every try finds its way back into memorised code.  (Which of
    the two happens depends on how short a rare copy search attributes: the invariants hold for both.)"""
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    strict = Attributor(istore, policy="regenerate")
    events = list(AttributedGenerator(gen, strict, check_chars=48).stream(prompt, greedy(60)))
    finish = [e for e in events if e.kind == "finish"]
    assert len(finish) == 1
    released = "".join(e.text for e in events if e.kind == "text")
    assert released and not strict.blocks(strict.attribute(released, prompt=prompt))
    att = finish[0].attribution
    assert att is not None
    regenerated = att["regenerated"]
    withheld = regenerated["withheld"]
    # The first try copies colorsys.py, so there was at least one retry, and at most the default three.
    assert 1 <= len(withheld) <= 3 + (0 if regenerated["clean"] else 1)
    assert all(w["attribution"]["verdict"] in search.ATTRIBUTING for w in withheld)
    assert withheld[0]["attribution"]["matches"][0]["path"] == "colorsys.py"
    assert regenerated["tries"] == len(withheld) + (1 if regenerated["clean"] else 0)
    if regenerated["clean"]:
        assert finish[0].finish_reason in ("length", "stop")
        assert att["verdict"] not in search.ATTRIBUTING
    else:
        assert finish[0].finish_reason == "content_filter" and att["verdict"] in search.ATTRIBUTING
    # Each retry's prompt is the prompt and the text sent before it (a prefix of what was sent at the end).
    usage = events[-1].usage
    assert usage is not None
    retries = regenerated["tries"] - 1
    base = gen.count_tokens(prompt)
    assert base * (1 + retries) <= usage.prompt_tokens <= base + retries * gen.count_tokens(prompt + released)


def test_regenerate_on_a_remote_backend_sends_other_seeds(
    gen: LocalGenerator, istore: SQLiteStore, tiny_corpus: Path
) -> None:
    """An OpenAI-compatible server (the tiny model behind a local server speaking the protocol) takes
    no penalty: it is asked again with the derived seeds, and under greedy decoding not at all."""
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    with serve(gen) as srv:
        remote = RemoteGenerator(url_of(srv))
        assert not takes_penalty(remote) and penalty(remote, ["x = 1\n"]) == {}
        agen = AttributedGenerator(remote, Attributor(istore, policy="regenerate"))
        once = agen.generate(prompt, greedy(40)).choices[0]
        assert once.finish_reason == "content_filter"
        assert once.attribution is not None and once.attribution["regenerated"]["tries"] == 1
        assert len(srv.bodies) == 1
        srv.bodies.clear()
        sampled = GenerationParams(temperature=1.0, top_p=1.0, max_new_tokens=40, seed=5)
        choice = agen.generate(prompt, sampled).choices[0]
        assert choice.attribution is not None
        tries = choice.attribution["regenerated"]["tries"]
        assert tries >= 2 and [b["seed"] for b in srv.bodies] == [
            5,
            *(next_seed(5, 0, k) for k in range(1, tries)),
        ]
        assert all(b["prompt"] == prompt for b in srv.bodies)


# -- the CLI and the service -------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["generate", *args])


def test_cli_regenerate_and_context(tiny_model: Path, tiny_index: Path, tiny_corpus: Path) -> None:
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    common = ["--model", str(tiny_model), "--index", str(tiny_index), "--temperature", "0"]
    blocked = run_cli(prompt, *common, "--max-new-tokens", "40", "--policy", "block-any")
    assert blocked.exit_code == 1 and blocked.stdout == ""
    res = run_cli(prompt, *common, "--max-new-tokens", "40", "--policy", "regenerate")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() and "regenerated: try 2 was clean" in res.stderr
    assert "try 1:" in res.stderr and "colorsys.py" in res.stderr
    data = json.loads(
        run_cli(
            prompt, *common, "--max-new-tokens", "40", "--policy", "regenerate", "--format", "json"
        ).stdout
    )
    assert data["choices"][0]["attribution"]["regenerated"]["tries"] == 2
    out = run_cli(
        prompt, *common, "--max-new-tokens", "100", "--policy", "regenerate", "--regenerate-tries", "1"
    )
    assert out.exit_code == 1 and "all 2 tries matched" in out.stderr
    cont, _ = split(tiny_corpus, "cpython/colorsys.py", CONTINUE_AT)
    shown = run_cli(cont, *common, "--max-new-tokens", str(CONTINUE_TOKENS))
    assert shown.exit_code == 0 and "prompt lines" in shown.stderr and "written by the model" in shown.stderr
    off = run_cli(cont, *common, "--max-new-tokens", str(CONTINUE_TOKENS), "--context-chars", "0")
    assert off.exit_code == 0 and "attribution: none" in off.stderr
    bad = run_cli(prompt, "--index", str(tiny_index), "--regenerate-tries", "11")
    assert bad.exit_code == 2 and "--regenerate-tries" in bad.stderr


def test_regenerate_over_http(tiny_model: Path, tiny_index: Path, tiny_corpus: Path, tmp_path: Path) -> None:
    """A real ``whence serve --policy regenerate``: the clean try is answered with the withheld one's
    attribution, plain and streamed; ``--regenerate-tries 0`` withholds as block-any does."""
    state_path = tmp_path / "state.sqlite"
    state = State(state_path)
    _, key = state.create_key("k")
    state.close()
    prompt, _ = split(tiny_corpus, "cpython/colorsys.py", 40)
    body = {"prompt": prompt, "max_tokens": 40, "temperature": 0}
    auth = {"Authorization": f"Bearer {key}"}
    args = ["--index", str(tiny_index), "--state", str(state_path), "--model", str(tiny_model)]
    args += ["--search-processes", "0", "--policy", "regenerate"]
    with whence_serve(args) as (_, base), httpx.Client(base_url=base, headers=auth, timeout=300) as http:
        res = http.post("/v1/completions", json=body)
        assert res.status_code == 200, res.text
        choice = res.json()["choices"][0]
        assert choice["text"] and choice["finish_reason"] == "length"
        regenerated = choice["attribution"]["regenerated"]
        assert regenerated["clean"] and regenerated["withheld"][0]["attribution"]["verdict"] == "verbatim"
        assert res.json()["usage"]["completion_tokens"] == 80
        streamed = http.post("/v1/completions", json=body | {"stream": True})
        frames = [f.removeprefix("data: ") for f in streamed.text.split("\n\n") if f.startswith("data: ")]
        assert frames[-1] == "[DONE]"
        chunks = [json.loads(f) for f in frames[:-1]]
        text = "".join(ch["text"] for e in chunks for ch in e["choices"])
        last = next(ch for e in chunks for ch in e["choices"] if ch["finish_reason"])
        assert text == choice["text"] and last["attribution"]["regenerated"] == regenerated
    with whence_serve([*args, "--regenerate-tries", "0"]) as (_, base):
        res = httpx.post(f"{base}/v1/completions", json=body, headers=auth, timeout=300)
        choice = res.json()["choices"][0]
        assert (choice["text"], choice["finish_reason"]) == ("", "content_filter")
        assert choice["attribution"]["regenerated"] == {
            "tries": 1,
            "clean": False,
            "withheld": [{"try": 1, "attribution": regenerated["withheld"][0]["attribution"]}],
        }
    with pytest.raises(ValueError, match="regenerate_tries"):
        Settings(index=str(tiny_index), state=str(state_path), regenerate_tries=11)
