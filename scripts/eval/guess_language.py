"""How well ``lexer.guess_language`` names the language of real files and of snippets cut from them.

Takes the dev corpus (``whence_dev.corpus``: Python, Go, C, C++ headers, Java from the JDK's src.zip,
JavaScript, ... whatever this machine has), keeps the files whose extension names a language, and guesses
the language of each whole file and of one snippet of 5 to 40 lines cut at a seeded random position.  A
guess is *right* when it lexes like the true language (C for a C++ header is right: the same syntax
profile), *unsure* when it is None (the snippet is then lexed with the default rules), and *wrong*
otherwise.  Prints one row per language and the totals.

    python scripts/eval/guess_language.py [--files 20000] [--seed 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict

from whence.index import lexer
from whence_dev import corpus


def outcome(guess: str | None, truth: str) -> str:
    if guess is None:
        return "unsure"
    same = lexer.syntax_for(guess).encode() == lexer.syntax_for(truth).encode()
    return "right" if same else "wrong"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", metavar="OUT", help="also write the counts as JSON")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(
        lambda: {"file": Counter(), "snippet": Counter()}
    )
    confusions: Counter[tuple[str, str]] = Counter()
    for f in corpus.gather(seed=args.seed, limit=args.files):
        truth = lexer.language_for_path(f.relpath)
        if truth is None:
            continue
        data = corpus.read_bytes(f.path)
        lines = data.splitlines(keepends=True)
        if len(lines) < 5:
            continue
        n = rng.randint(5, min(40, len(lines)))
        start = rng.randint(0, len(lines) - n)
        for kind, text in (("file", data), ("snippet", b"".join(lines[start : start + n]))):
            guess = lexer.guess_language(text)
            result = outcome(guess, truth)
            counts[truth][kind][result] += 1
            if result == "wrong" and kind == "snippet":
                confusions[(truth, str(guess))] += 1
    total = {"file": Counter[str](), "snippet": Counter[str]()}
    head = ("whole file: right/unsure/wrong", "snippet: right/unsure/wrong")
    print(f"{'language':<16} {'files':>6}  {head[0]:>32}  {head[1]:>28}")
    for lang, by_kind in sorted(counts.items(), key=lambda kv: -sum(kv[1]["file"].values())):
        cells = []
        for kind in ("file", "snippet"):
            c = by_kind[kind]
            total[kind].update(c)
            m = max(1, sum(c.values()))
            cells.append(
                f"{100 * c['right'] / m:5.1f}% {100 * c['unsure'] / m:5.1f}% {100 * c['wrong'] / m:5.1f}%"
            )
        print(f"{lang:<16} {sum(by_kind['file'].values()):>6}  {cells[0]:>32}  {cells[1]:>28}")
    for kind in ("file", "snippet"):
        c = total[kind]
        m = max(1, sum(c.values()))
        print(f"all ({kind}s): {sum(c.values())}: right {100 * c['right'] / m:.1f}%, "
              f"unsure {100 * c['unsure'] / m:.1f}%, wrong {100 * c['wrong'] / m:.1f}%")  # fmt: skip
    print(
        "commonest wrong snippet guesses:",
        ", ".join(f"{t}->{g} {k}" for (t, g), k in confusions.most_common(8)),
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump({lang: {k: dict(v) for k, v in d.items()} for lang, d in counts.items()}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
