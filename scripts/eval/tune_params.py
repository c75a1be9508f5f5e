"""Measure the fingerprint parameters K (tokens per k-gram) and W (winnowing window) on real code.

For each (K, W) it reports, over a sample of real files:
  T            the guarantee threshold K + W - 1 (shared runs this long are always found)
  fp/ktok      winnowed fingerprints per 1,000 tokens, both views (index size and build time scale with it)
  ex-df>1%     share of distinct exact fingerprints found in more than 1% of the files
  ab-df>1%     the same for the abstract view (a shape that common cannot point at one origin)
  ab-unique    share of distinct abstract fingerprints found in one file only (specificity)

Usage: python scripts/eval/tune_params.py [--files 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import sysconfig
from collections import Counter
from pathlib import Path

import numpy as np

from whence.index import fingerprint as fp


def sample_files(n: int, seed: int) -> list[bytes]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    paths = sorted(p for r in roots for p in r.rglob("*.py") if p.is_file() and p.stat().st_size < 1 << 20)
    random.Random(seed).shuffle(paths)
    out = []
    for p in paths:
        data = p.read_bytes()
        if data.strip():
            out.append(data)
        if len(out) >= n:
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    files = sample_files(args.files, args.seed)
    toks = [fp.tokenize(d) for d in files]
    ntok = sum(len(t) for t in toks)
    print(f"{len(files)} files, {ntok} tokens, native kernel: {fp.has_native()}")
    print(f"{'K':>3} {'W':>3} {'T':>3} {'fp/ktok':>8} {'ex-df>1%':>9} {'ab-df>1%':>9} {'ab-unique':>9}")
    limit = max(2, len(files) // 100)
    for k in (8, 10, 12, 16, 20, 24):
        for w in (8, 12, 16, 20, 24):
            ex_df: Counter[int] = Counter()
            ab_df: Counter[int] = Counter()
            total = 0
            for t in toks:
                e = fp.kgrams(t.exact, k)
                a = fp.kgrams(t.abstract, k)
                es = np.unique(e[fp.winnow(e, w)]) if len(e) else e
                as_ = np.unique(a[fp.winnow(a, w)]) if len(a) else a
                total += len(es) + len(as_)
                ex_df.update(es.tolist())
                ab_df.update(as_.tolist())
            ex_common = sum(1 for c in ex_df.values() if c > limit) / max(1, len(ex_df))
            ab_common = sum(1 for c in ab_df.values() if c > limit) / max(1, len(ab_df))
            ab_unique = sum(1 for c in ab_df.values() if c == 1) / max(1, len(ab_df))
            print(
                f"{k:>3} {w:>3} {k + w - 1:>3} {1000 * total / ntok:>8.1f} {100 * ex_common:>8.2f}% "
                f"{100 * ab_common:>8.2f}% {100 * ab_unique:>8.1f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
