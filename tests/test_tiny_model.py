"""The shipped tiny StarCoder2 (``tests/fixtures/tiny-starcoder2/``) and the script that makes it.

The fixture is never silently stale: it records checksums of the script that trained it and of the
corpus it memorised, and the first test here fails when either changed.  The model must also still
reproduce, greedily on *this* machine, the spans the generator tests ask it for (CPU kernels differ
between machines; the build script trains for a wide logit margin so that they cannot flip a token).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from whence.generator.base import GenerationParams
from whence.generator.local import LocalGenerator
from whence_dev.tiny_model import FIXTURE, REBUILD, ROOT, SCRIPT, corpus_sha256, script_sha256

#: Lines at which the generator tests cut a file into prompt and expected completion.
PROMPT_LINES = {"cpython/colorsys.py": [20, 40, 80, -8], "hypothesis/integer.py": [14]}


@pytest.fixture(scope="module")
def gen(tiny_model: Path) -> Iterator[LocalGenerator]:
    g = LocalGenerator(str(tiny_model))  # the path users' `--model FOLDER` takes
    yield g
    g.close()


def test_the_fixture_was_made_by_this_script_from_this_corpus(tiny_corpus: Path) -> None:
    made = json.loads((FIXTURE / "build.json").read_text())
    assert made["script_sha256"] == script_sha256(), (
        f"{SCRIPT.relative_to(ROOT)} changed since it made {FIXTURE.relative_to(ROOT)}: "
        f"rebuild it on purpose with `{REBUILD}`"
    )
    assert made["files"] == ["cpython/colorsys.py", "hypothesis/integer.py"]
    assert made["corpus_sha256"] == corpus_sha256(tiny_corpus), (
        "the corpus on this machine (this Python's colorsys.py, the pinned hypothesis' integer.py) is "
        f"not the one the shipped model memorised: rebuild it on purpose with `{REBUILD}`"
    )
    assert made["reached"]["corpus_accuracy"] == 1.0


def test_the_fixture_is_a_small_starcoder2_folder() -> None:
    config = json.loads((FIXTURE / "config.json").read_text())
    assert config["model_type"] == "starcoder2" and config["architectures"] == ["Starcoder2ForCausalLM"]
    assert (FIXTURE / "model.safetensors").is_file() and (FIXTURE / "tokenizer.json").is_file()
    size = sum(p.stat().st_size for p in FIXTURE.iterdir())
    assert size < 8 * 2**20, f"the test model is {size / 2**20:.1f} MiB: keep it a few MB"


def test_the_shipped_model_reproduces_its_corpus_here(gen: LocalGenerator, tiny_corpus: Path) -> None:
    """Every next token of every file is the model's first choice (so greedy decoding from any long
    enough prefix of a file writes the rest), by at least a margin CPU kernels cannot bridge."""
    made = json.loads((FIXTURE / "build.json").read_text())
    skip = made["prompt_tokens"]
    margins = []
    with torch.no_grad():
        for rel in made["files"]:
            ids = gen.tokenizer((tiny_corpus / rel).read_text(), add_special_tokens=False).input_ids
            x = torch.tensor([[*ids, gen.eos_token_id]])
            logits = gen.model(input_ids=x).logits[0, skip - 1 : -1].float()
            want = x[0, skip:]
            wrong = torch.nonzero(logits.argmax(-1) != want).flatten().tolist()
            assert not wrong, f"{rel}: tokens {[skip + i for i in wrong][:10]} are not predicted"
            good = logits.gather(1, want[:, None])[:, 0]
            margins.append(float((good - logits.scatter(1, want[:, None], -torch.inf).max(-1).values).min()))
    assert min(margins) > 0.1, margins


def test_the_shipped_model_writes_the_spans_the_tests_ask_for(gen: LocalGenerator, tiny_corpus: Path) -> None:
    """Greedy completions of prompts cut where the generator tests cut them, the prompt stopping before
    the line's newline as theirs do: each is the rest of the file.  (Not every cut works: a prompt that
    stops before a newline is tokenised unlike the same text inside the file, and at a few lines the
    tiny model then goes astray; a new test that needs another cut adds it here first.)"""
    params = GenerationParams(temperature=0, max_new_tokens=120)
    for rel, cuts in PROMPT_LINES.items():
        lines = (tiny_corpus / rel).read_text().splitlines(keepends=True)
        for at in (c % len(lines) for c in cuts):
            head, rest = "".join(lines[:at])[:-1], "\n" + "".join(lines[at:])
            text = gen.generate(head, params).choices[0].text
            assert rest.startswith(text) and len(text) >= min(len(rest), 200), (rel, at, text[:200])


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _small_corpus(root: Path, tiny_corpus: Path) -> Path:
    """The first 30 lines of colorsys.py: small enough to memorise in a minute."""
    (root / "cpython").mkdir(parents=True)
    text = "".join((tiny_corpus / "cpython/colorsys.py").read_text().splitlines(keepends=True)[:30])
    (root / "cpython" / "head.py").write_text(text)
    return root


SMALL = ["--vocab-size", "400", "--hidden", "64", "--layers", "2", "--seq", "256", "--eval-every", "25"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_build_saves_its_best_checkpoint_with_what_it_reached(tmp_path: Path, tiny_corpus: Path) -> None:
    corpus = _small_corpus(tmp_path / "corpus", tiny_corpus)
    out = tmp_path / "model"
    res = _run("--corpus", str(corpus), "--out", str(out), *SMALL, "--max-steps", "600")
    assert res.returncode == 0, res.stderr[-3000:]
    made = json.loads((out / "build.json").read_text())
    reached = made["reached"]
    assert reached["corpus_accuracy"] == 1.0 and made["files"] == ["cpython/head.py"]
    assert f"saved the checkpoint of step {reached['step']}" in res.stdout
    assert made["stopped"]["why"] in ("every target was reached", "the step budget (--max-steps) ended")
    assert made["corpus_sha256"] == corpus_sha256(corpus)
    # What was saved reproduces its corpus when loaded as users load a model.
    text = (corpus / "cpython/head.py").read_text()
    with LocalGenerator(str(out)) as g:
        lines = text.splitlines(keepends=True)
        head, rest = "".join(lines[:8])[:-1], "\n" + "".join(lines[8:])
        got = g.generate(head, GenerationParams(temperature=0, max_new_tokens=400)).choices[0]
    assert got.text == rest and got.finish_reason == "stop"
    # Built once: a second run with the same script, corpus and options trains nothing.
    again = _run("--corpus", str(corpus), "--out", str(out), *SMALL, "--max-steps", "600")
    assert again.returncode == 0 and "up to date" in again.stdout


@pytest.mark.timeout(300)
def test_a_build_that_never_reproduces_its_corpus_exits_1_and_saves_nothing(
    tmp_path: Path, tiny_corpus: Path
) -> None:
    corpus = _small_corpus(tmp_path / "corpus", tiny_corpus)
    out = tmp_path / "model"
    res = _run("--corpus", str(corpus), "--out", str(out), *SMALL, "--max-steps", "25")
    assert res.returncode == 1
    assert "never all of it" in res.stderr and "at best" in res.stderr and "nothing saved" in res.stderr
    assert not out.exists()


def test_bad_arguments_are_refused() -> None:
    assert _run("--fixture", "--out", "x").returncode == 2
    assert _run("--out", "x").returncode == 2
    res = _run("--corpus", str(ROOT / "no-such-folder"), "--out", "x")
    assert res.returncode == 2 and "not a folder" in res.stderr
