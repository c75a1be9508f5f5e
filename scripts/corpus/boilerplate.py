"""Learn the shipped boilerplate model: fingerprints common in a large corpus of real code.

An index decides what is boilerplate from its own document counts (a fingerprint held by more than
``max(64, 1e-4 x documents)`` documents).  That works for an index of millions of files and not at all
for one of a few hundred: there, a ``public static void main(String[] args)`` preamble or an argument
parser's set-up is held by a handful of documents and looks as specific as an algorithm.  The model
carries what a large corpus knows into every index: the fingerprints (both views, as ingestion selects
them) that many unrelated places of the corpus hold.

Counting: a fingerprint counts once per *place*, a file's family and path (``whence_dev.corpus``), so
eight versions of one standard-library module count once, and once per family at most
``--per-family`` times, so that one big project's internal repetition does not make its idioms
everyone's boilerplate.  It is common when at least ``--min-places`` places in at least
``--min-families`` families hold it, or ``--min-in-family`` places of one family (a language whose only
large project on this machine is one family, as Java's JDK is, still has its idioms learned).

A file's fingerprints are its code's and, unless ``--no-line-comments``, those of the words of the line
comments that head it (:func:`whence_dev.headers.header_prose`, exact view): the lexer drops line
comments, so no index holds them, but a notice kept in ``//`` or ``#`` comments atop hundreds of files is
copied into LICENSE files and block comments, where it is tokens.

With ``--licenses``, the fingerprints of every SPDX license text are added (the texts come from the
SPDX license list, not from the machine's files, so the clean-file evaluation is not trained on), and
those of each text with its list markers written the other ways copies write them (``1.`` as ``*``,
``-`` or nothing: GitHub's BSD-3 template bullets its conditions, SPDX's numbers them).

With ``--idioms``, the abstract view's k-grams of Java console programs' preambles are added, written
out from a grammar (``whence_dev/idioms.py``: a head, a ``Scanner`` or ``BufferedReader`` on
``System.in``, prompted reads, the check or loop that follows): the corpus here is libraries, which read
no console, and The Stack's coursework repeats these shapes in countless places.

``--from-model PATH`` skips the corpus: the model at PATH (its fingerprints and its corpus settings) gets
the license fingerprints and/or the idioms added, so that they can be brought up to date without the
corpus it was learned from (which is what a machine had installed).

Writes ``index/data/boilerplate.npz`` (``hashes``: sorted uint64; ``licenses``: the positions of the
license texts' among them, which search also uses to bridge a license's reworded gaps; ``meta``: JSON of
the settings and the corpus), shipped in the package and read by :mod:`whence.index.boilerplate`.

    python scripts/corpus/boilerplate.py [--limit N] [--min-places 24] [--min-families 3] [--min-in-family 64]
        [--no-line-comments] [--licenses spdx-full.json] [--idioms] [--out PATH]
    python scripts/corpus/boilerplate.py --from-model index/data/boilerplate.npz [--licenses spdx-full.json]
        [--idioms]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from whence.index import boilerplate, fingerprint, lexer
from whence_dev import idioms
from whence_dev.corpus import gather, read_bytes
from whence_dev.headers import header_prose

OUT = Path(__file__).resolve().parents[2] / "index" / "data" / "boilerplate.npz"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="at most this many corpus files")
    ap.add_argument("--min-places", type=int, default=24, help="places (family, path) that must hold it")
    ap.add_argument("--min-families", type=int, default=3, help="families that must hold it")
    ap.add_argument("--per-family", type=int, default=8, help="most places one family contributes")
    ap.add_argument(
        "--min-in-family",
        type=int,
        default=64,
        help="or: places of one family that must hold it (a language with one big project here, "
        "such as Java's JDK, still has idioms)",
    )
    ap.add_argument(
        "--licenses",
        type=Path,
        help="SPDX license texts (spdx-full.json of the npm package spdx-license-list: "
        "`npm pack spdx-license-list@6.12.0`); every license's fingerprints are boilerplate",
    )
    ap.add_argument(
        "--idioms",
        action="store_true",
        help="add the abstract k-grams of Java console programs' preambles (whence_dev/idioms.py)",
    )
    ap.add_argument(
        "--no-line-comments",
        dest="line_comments",
        action="store_false",
        help="count each file's code tokens only, not also its line comments' words (see the docstring)",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--from-model",
        type=Path,
        help="add --licenses and/or --idioms to this model instead of learning from the corpus (its "
        "settings are kept)",
    )
    args = ap.parse_args()
    if args.from_model:
        return _add_to_model(args)

    t0 = time.perf_counter()
    files = gather(limit=args.limit, seed=0 if args.limit else None)
    print(f"boilerplate: {len(files)} corpus files", file=sys.stderr)
    families: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    chunks: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for i, f in enumerate(files):
        place = (f.family, f.relpath)
        if place in seen:
            continue
        seen.add(place)
        try:
            raw = read_bytes(f.path)
        except OSError:
            continue
        language = _language(f.relpath)
        h = fingerprint.index_fingerprint(raw, language=language).hashes.view(np.uint64)
        if args.line_comments:
            h = np.concatenate((h, header_prose(raw, language)))
        fam = families.setdefault(f.family, len(families))
        chunks.append(np.unique(h))
        owners.append(np.full(len(chunks[-1]), fam, dtype=np.int32))
        if i % 10_000 == 0:
            print(f"boilerplate: {i}/{len(files)} files, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    hashes = np.concatenate(chunks)
    fams = np.concatenate(owners)
    # Places per (hash, family), capped per family; then places and families per hash.
    order = np.lexsort((fams, hashes))
    hashes, fams = hashes[order], fams[order]
    pair_start = np.ones(len(hashes), dtype=bool)
    pair_start[1:] = (hashes[1:] != hashes[:-1]) | (fams[1:] != fams[:-1])
    idx = np.flatnonzero(pair_start)
    per_pair = np.diff(np.append(idx, len(hashes)))
    ph = hashes[idx]
    capped = np.minimum(per_pair, args.per_family)
    hash_start = np.ones(len(ph), dtype=bool)
    hash_start[1:] = ph[1:] != ph[:-1]
    hidx = np.flatnonzero(hash_start)
    places = np.add.reduceat(capped, hidx)
    nfam = np.diff(np.append(hidx, len(ph)))
    most_in_one = np.maximum.reduceat(per_pair, hidx)
    common = ph[hidx][
        ((places >= args.min_places) & (nfam >= args.min_families)) | (most_in_one >= args.min_in_family)
    ]
    licensed = _license_hashes(args.licenses) if args.licenses else np.zeros(0, dtype=np.uint64)
    shapes = _idiom_hashes() if args.idioms else np.zeros(0, dtype=np.uint64)
    common = np.union1d(np.union1d(common, licensed), shapes)
    meta = {
        "idiom_fingerprints": len(shapes),
        "files": len(seen),
        "license_texts": str(args.licenses.name) if args.licenses else "",
        "license_fingerprints": len(licensed),
        "families": len(families),
        "min_places": args.min_places,
        "min_families": args.min_families,
        "per_family": args.per_family,
        "min_in_family": args.min_in_family,
        "line_comments": args.line_comments,
        "distinct_fingerprints": int(hash_start.sum()),
        "common": len(common),
        "fingerprint": boilerplate.fingerprint_params(),
        "languages": dict(Counter(_language(p) or "other" for _, p in seen).most_common()),
    }
    _save(args.out, common, licensed, meta)
    print(json.dumps(meta, indent=1, sort_keys=True))
    print(
        f"boilerplate: {len(common)} common fingerprints of {meta['distinct_fingerprints']} "
        f"-> {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    boilerplate.load.cache_clear()
    return 0


def _add_to_model(args: argparse.Namespace) -> int:
    """``--from-model``: the model's fingerprints with every license's and/or the idioms' added (its
    license fingerprints kept as they are when no ``--licenses`` is given)."""
    if not args.licenses and not args.idioms:
        print("boilerplate: --from-model needs --licenses or --idioms", file=sys.stderr)
        return 2
    with np.load(args.from_model) as data:
        hashes = np.asarray(data["hashes"], dtype=np.uint64)
        meta = json.loads(str(data["meta"]))
        at = np.asarray(data["licenses"], dtype=np.int64) if "licenses" in data.files else np.zeros(0, int)
    if meta.get("fingerprint") != boilerplate.fingerprint_params():
        print(
            f"boilerplate: {args.from_model} was learned with other fingerprints: learn it again",
            file=sys.stderr,
        )
        return 1
    if args.licenses:
        licensed = _license_hashes(args.licenses)
        meta |= {
            "license_texts": str(args.licenses.name),
            "license_fingerprints": len(licensed),
            "license_markers": list(_MARKERS),
        }
    else:
        licensed = hashes[at[(at >= 0) & (at < len(hashes))]]
    common = np.union1d(hashes, licensed)
    if args.idioms:
        shapes = _idiom_hashes()
        common = np.union1d(common, shapes)
        meta["idiom_fingerprints"] = len(shapes)
    meta["common"] = len(common)
    _save(args.out, common, licensed, meta)
    print(f"boilerplate: {len(hashes)} -> {len(common)} common fingerprints -> {args.out}", file=sys.stderr)
    boilerplate.load.cache_clear()
    return 0


def _save(out: Path, common: np.ndarray, licensed: np.ndarray, meta: dict[str, object]) -> None:
    """The model file: its sorted hashes, the positions of the license fingerprints among them, and its
    settings as JSON."""
    common = np.sort(common)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        hashes=common,
        licenses=np.searchsorted(common, licensed).astype(np.uint32),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )


#: A list item's marker at the start of a line (``1.``, ``b)``, ``iv.``), and what copies write instead.
_MARKER = re.compile(r"^([ \t]*)(?:\d{1,2}|[a-zA-Z]|[ivxIVX]{1,4})[.)][ \t]+", re.M)
_MARKERS = ("* ", "- ", "")


def license_variants(text: str) -> list[str]:
    """``text`` and, if it numbers a list, the same text with each marker written as each of
    :data:`_MARKERS` (the tokens around a marker differ, and with them the k-grams winnowing selects)."""
    out = [text]
    for marker in _MARKERS:
        other = _MARKER.sub(lambda m, mk=marker: m.group(1) + mk, text)
        if other not in out:
            out.append(other)
    return out


def _license_hashes(path: Path) -> np.ndarray:
    """The fingerprints (as ingestion selects them) of every license text in an SPDX list, and of its
    :func:`license_variants`: a license is the one text meant to be copied everywhere, so a LICENSE
    file, a license in a docstring or a README's license section is never attributed to the one
    indexed file that happens to quote it."""
    data = json.loads(path.read_text())
    texts = [v["licenseText"] for v in data.values() if isinstance(v, dict) and v.get("licenseText")]
    variants = [v for t in texts for v in license_variants(t)]
    print(
        f"boilerplate: {len(texts)} license texts from {path} ({len(variants)} with variants)",
        file=sys.stderr,
    )
    parts = [fingerprint.index_fingerprint(t.encode("utf-8")).hashes.view(np.uint64) for t in variants]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)


def _idiom_hashes() -> np.ndarray:
    """The console-idioms grammar's abstract k-grams (:func:`whence_dev.idioms.shapes`)."""
    found = idioms.shapes()
    print(
        f"boilerplate: {len(found)} abstract k-grams of {len(idioms.texts())} console programs",
        file=sys.stderr,
    )
    return found


def _language(path: str) -> str | None:
    """The file's language as ingestion decides it (its extension), so the model's fingerprints are the
    index's."""
    return lexer.language_for_path(path)


if __name__ == "__main__":
    sys.exit(main())
