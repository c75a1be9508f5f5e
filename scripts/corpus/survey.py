"""What the real-code corpus (``whence_dev.corpus``: roots, licenses, families) holds on this machine.

Prints the files, repos and commonest extensions of each root, then the corpus in all (files reached
twice, families, repos), and warns when it has fewer files than the search benchmark wants.

    python scripts/corpus/survey.py [--no-more] [--extra-root DIR] [--distinct]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

from whence_dev.corpus import __doc__ as CORPUS_DOC
from whence_dev.corpus import gather, read_bytes, roots


def main() -> None:
    ap = argparse.ArgumentParser(
        description=f"{__doc__}\n{CORPUS_DOC}", formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--no-more", dest="more", action="store_false", help="only the default roots")
    ap.add_argument(
        "--extra-root", action="append", default=[], metavar="DIR", help="another root (repeatable)"
    )
    ap.add_argument("--distinct", action="store_true", help="also count distinct contents (reads every file)")
    ap.add_argument("--need", type=int, default=100_000, help="files the search benchmark wants")
    args = ap.parse_args()
    t0 = time.perf_counter()
    total = 0
    for label, gen in roots(args.more, args.extra_root):
        files = list(gen)
        total += len(files)
        langs = Counter(os.path.splitext(f.relpath)[1] for f in files).most_common(4)
        print(f"{len(files):>8}  {label}  ({len(set(f.repo for f in files))} repos; {langs})")
    files = gather(more=args.more, extra=args.extra_root)
    fams = len({f.family for f in files})
    print(f"{len(files):>8}  files in all ({total - len(files)} reached twice), {fams} families, "
          f"{len({f.repo for f in files})} repos  [{time.perf_counter() - t0:.1f}s]")  # fmt: skip
    if args.distinct:
        import xxhash

        hashes = {xxhash.xxh3_128_digest(read_bytes(f.path)) for f in files}
        size = sum(len(read_bytes(f.path)) for f in files)
        print(f"{len(hashes):>8}  distinct contents ({size / 1e6:.0f} MB in all)")
    if len(files) < args.need:
        print(f"WARNING: {len(files)} < {args.need} files: add some with --extra-root DIR, e.g. "
              "`pip install --no-deps --target DIR ansible` (~15,000 Python files)")  # fmt: skip
    sys.exit(0)


if __name__ == "__main__":
    main()
