"""Pieces the benchmarks share: peak RSS, a rates line and running a build in a fresh process (the build
benchmarks); the corpus split, snippets and percentiles of the search benchmarks (SQLite and engine)."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import urllib.request
from typing import Any

from whence.index import ingest

from . import corpus

#: Corpus files held back from the index: snippets of them should be found nowhere.
HELD_BACK = 200


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rates(r: dict[str, Any]) -> str:
    """``files, MB, seconds, MB/s, files/s`` of a result with ``files``, ``bytes`` and ``seconds``."""
    s = max(r["seconds"], 1e-9)
    mb = r["bytes"] / 1e6
    return f"{r['files']:>7} files {mb:8.1f} MB {s:8.2f} s {mb / s:8.2f} MB/s {r['files'] / s:8.0f} files/s"


def child_result(cmd: list[str]) -> dict[str, Any] | str:
    """Run a benchmark in a fresh process (so its peak RSS is its own) and return the ``whence`` part of
    the JSON line it prints, or why it failed."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
    if out.returncode != 0 or line is None:
        return f"failed (exit {out.returncode}): {out.stderr.strip()[-500:]}"
    result: dict[str, Any] = json.loads(line)["whence"]
    return result


def snippet(lines: list[str], rng: random.Random) -> str:
    n = rng.randint(10, 40)
    start = rng.randrange(max(1, len(lines) - n + 1))
    return "\n".join(lines[start : start + n]) + "\n"


def snippets(
    rng: random.Random, wanted: list[tuple[list[corpus.CorpusFile], int, bool]]
) -> list[tuple[bool, str]]:
    """Search benchmarks' queries: for each ``(pool, want, inside)``, up to ``want`` snippets of random
    files of ``pool`` (at most 20 tries per snippet wanted), each tagged with ``inside``; shuffled."""
    out: list[tuple[bool, str]] = []
    for pool, want, inside in wanted:
        got = tries = 0
        while got < want and tries < 20 * want:
            tries += 1
            lines = load_lines(rng.choice(pool))
            if lines:
                out.append((inside, snippet(lines, rng)))
                got += 1
    rng.shuffle(out)
    return out


def load_lines(f: corpus.CorpusFile) -> list[str] | None:
    raw = corpus.read_bytes(f.path)
    if ingest.check_text(raw):
        return None
    lines = raw.decode("utf-8").splitlines()
    return lines if len(lines) >= 10 else None


def pct(xs: list[float], p: float) -> float:
    return sorted(xs)[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def split_corpus(
    files: int, seed: int, extra: list[str]
) -> tuple[list[corpus.CorpusFile], list[corpus.CorpusFile]]:
    """The corpus, shuffled by ``seed``: up to ``files`` files to index, and HELD_BACK others whose
    snippets should be found nowhere (a warning when the corpus is smaller than asked)."""
    allfiles = corpus.gather(seed=seed, extra=extra)
    n_index = min(files, len(allfiles) - HELD_BACK)
    if n_index < files:
        print(f"WARNING: only {len(allfiles)} corpus files here: indexing {n_index}, not {files} "
              f"(add files with --extra-root DIR, see scripts/corpus/survey.py)")  # fmt: skip
    return allfiles[:n_index], allfiles[-HELD_BACK:]


def rest(method: str, url: str, body: Any = None) -> Any:
    """One plain REST call to a search-engine node (benchmarks set up and measure around the code they
    time); the timeout is long enough for a force-merge waited for."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3600) as resp:
        return json.loads(resp.read())
