"""What each kind of evidence promises: the precision behind ``Match.confidence``.

Reads the ``--json`` outputs of ``scripts/eval/attribution.py`` (fragments of five languages, held-out
negatives, independent solutions, clean files; default and ``--files 300`` runs) and
``scripts/eval/programs.py`` (plagiarised and obfuscated programs, independent solutions), and prints,
per kind of evidence of the top match (``exact-run``, ``short-rare-run``, ``short-unique-run``,
``edited``, ``renamed``, ``short-rare-renamed``, ``restructured``), how many queries' top match had it
and the share that named the right origin (a negative's, clean file's or independent solution's never
does), per input and pooled.  The pooled figures are what ``whence.index.verdict.EVIDENCE`` records
(for a kind with none wrong, the rule of three's bound 1 - 3/n).

    python scripts/eval/attribution.py --json frag.json
    python scripts/eval/attribution.py --files 300 --json frag300.json
    python scripts/eval/programs.py --json programs.json
    python scripts/eval/confidence.py frag.json frag300.json programs.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

POSITIVE_SETS = ("L1", "L2", "L3", "L4", "L5", "L6", "obfuscated")


def tally(path: Path) -> dict[str, list[int]]:
    """{evidence: [queries, right]} of one evaluation output."""
    data = json.loads(path.read_text())
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    if "queries" in data:  # programs.py
        for q in data["queries"]:
            w = q["whence"]
            if not w.get("flagged"):
                continue
            cell = out[w.get("evidence") or "-"]
            cell[0] += 1
            cell[1] += bool(w["right"]) and q["set"] in POSITIVE_SETS
    else:  # attribution.py
        for name, c in data["evidence"].items():
            out[name][0] += c["n"]
            out[name][1] += c["right"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outputs", nargs="+", type=Path, help="JSON outputs of attribution.py / programs.py")
    args = ap.parse_args()
    pooled: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in args.outputs:
        print(path)
        for name, (n, right) in sorted(tally(path).items()):
            print(f"  {name:<20}{100 * right / n:6.1f}% of {n}")
            pooled[name][0] += n
            pooled[name][1] += right
    print("pooled")
    for name, (n, right) in sorted(pooled.items()):
        print(f"  {name:<20}{100 * right / n:6.1f}% of {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
