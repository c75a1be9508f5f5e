"""Attribution quality on real code: does search find where a (mutated) fragment came from?

Indexes a sample of real files (``whence_dev.corpus``), cuts fragments of 5-40 lines from them at seeded
random positions, mutates them (exact, reindent, comments, crlf, partial, renamed), and checks that
search attributes them to the right file and lines.  Negatives are fragments of files of families that
were not indexed; boilerplate queries are line windows found in more indexed documents than the
search's boilerplate cap.  Prints a table (mutation x length: % correct, n) and PASS/FAIL lines; exits 1
when a target fails.

Targets (a) and (b) count, by default, only *attributable* fragments: ones that lex as in their file (not
cut inside a block comment or multi-line string) with >= 40 tokens not covered by boilerplate
fingerprints -- a fragment of 8 lines of comments cannot be attributed by design.  ``--gate all`` counts
every fragment of >= 8 lines; both figures are always printed.  Use a fresh ``--index``: negatives are
only negative if the index holds nothing but the held-in files.

    python scripts/eval/attribution.py [--files 4000] [--fragments-per-cell 60] [--seed 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import io
import json
import keyword
import random
import re
import sys
import tempfile
import time
import tokenize
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from whence.index import fingerprint, ingest, search
from whence.index.stores import open_store
from whence_dev import corpus
from whence_dev.corpus import CorpusFile

LENGTHS = (5, 8, 12, 20, 40)
MUTATIONS = ("exact", "reindent", "comments", "crlf", "partial", "renamed")
VERBATIM_KINDS = ("exact", "reindent", "comments", "crlf", "partial")
MIN = search.MIN_MATCH_TOKENS
PY_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | {"self", "cls"}
C_RESERVED = set(
    """auto break case char const continue default do double else enum extern float for goto if inline int
    long register restrict return short signed sizeof static struct switch typedef union unsigned void
    volatile while bool true false NULL nullptr class namespace template typename public private protected
    virtual override final friend operator new delete this throw try catch using explicit mutable constexpr
    noexcept decltype abstract boolean byte extends implements import instanceof interface native package
    super synchronized throws transient var record yield null String Object func go chan defer fallthrough
    map range select type nil iota string error len cap make append panic recover print println uint8 uint16
    uint32 uint64 int8 int16 int32 int64 float32 float64 rune uintptr any function let await async export
    from of in typeof undefined arguments require module exports self Self fn mut pub impl trait where crate
    mod use loop match ref move dyn unsafe as Some None Ok Err Box Vec Option Result usize isize u8 u16 u32
    u64 i8 i16 i32 i64 f32 f64 str sub my our local then elif fi esac done echo size_t ssize_t uint32_t
    uint64_t int32_t int64_t uint8_t uint16_t int8_t int16_t define include ifdef ifndef endif undef
    pragma""".split()  # noqa: SIM905
)
_LEX = (
    r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|(?P<cmt>{})'
    + r"|(?P<num>\d[\w.]*)|(?P<id>[A-Za-z_$][\w$]*)"
)
C_TOKEN = re.compile(_LEX.format(r"//[^\n]*"), re.S)  # C-like languages: // comments
HASH_TOKEN = re.compile(_LEX.format(r"(?<![\w$])#(?![{!])[^\n]*"), re.S)  # shell, Perl, Ruby, Python
HASH_LANGS = (".sh", ".pl", ".pm", ".rb", ".py", ".pyi")


def _long(line: str) -> bool:
    return len(line.strip()) >= 20


def _line_hash(line: str) -> int:
    return xxhash.xxh3_64_intdigest(line.strip().encode("utf-8", "surrogatepass"))


def split_lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


# -- mutations ---------------------------------------------------------------------------------------


class FileInfo:
    """A file's lines, and (for Python) its comment and name tokens, for mutating fragments of it."""

    def __init__(self, f: CorpusFile, lines: list[str]) -> None:
        self.file, self.lines = f, lines
        self.py = f.relpath.endswith((".py", ".pyi"))
        self.comments: dict[int, int] = {}  # 1-based row -> column where a comment starts
        self.names: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
        self.tokenized = False
        self._tokens: bytes | None = None
        if self.py:
            # a file Python cannot tokenise (other version, broken) is mutated with the C-style rules
            with contextlib.suppress(tokenize.TokenError, SyntaxError):
                for t in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline):
                    if t.type == tokenize.COMMENT:
                        self.comments[t.start[0]] = t.start[1]
                    elif t.type == tokenize.NAME and t.start[0] == t.end[0]:
                        self.names[t.start[0]].append((t.start[1], t.end[1], t.string))
                self.tokenized = True

    def lexes_alike(self, start: int, n: int) -> bool:
        """Whether the fragment's tokens are a contiguous run of the file's tokens.

        Not so when the cut falls inside a block comment or a multi-line string: the language-agnostic
        lexer then sees prose as code (or code as a string), and no search can match those tokens.
        """
        if self._tokens is None:
            self._tokens = fingerprint.tokenize("\n".join(self.lines).encode()).exact.tobytes()
        q = fingerprint.tokenize("\n".join(self.lines[start : start + n]).encode()).exact.tobytes()
        i = self._tokens.find(q)
        while i >= 0 and i % 8:
            i = self._tokens.find(q, i + 1)
        return i >= 0


def _c_style(text: str, drop_comments: bool, rename: dict[str, str] | None, hash_lang: bool = False) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group("cmt") is not None and drop_comments:
            return ""
        if m.group("id") is not None and rename is not None and m.group("id") not in C_RESERVED:
            return rename.setdefault(m.group("id"), f"v{len(rename) + 1}")
        return m.group(0)

    return (HASH_TOKEN if hash_lang else C_TOKEN).sub(sub, text)


def _drop_emptied(before: list[str], after: list[str]) -> list[str]:
    return [a.rstrip() for b, a in zip(before, after, strict=True) if a.strip() or not b.strip()]


def mutate(info: FileInfo, start: int, n: int, kind: str, rng: random.Random) -> str:
    """Fragment of ``n`` lines from 0-based line ``start``, mutated as ``kind``."""
    lines = info.lines[start : start + n]
    rows = range(start + 1, start + n + 1)
    if kind == "reindent":
        widths = [len(x.expandtabs(8)) - len(x.expandtabs(8).lstrip()) for x in lines if x.strip()]
        unit = min((w for w in widths if w), default=4)
        style = rng.choice(["\t", "  ", "   ", "        "])
        out = []
        for x in lines:
            e = x.expandtabs(8)
            w = len(e) - len(e.lstrip())
            out.append((style * (w // unit) + " " * (w % unit) + e.lstrip()).rstrip())
        lines = out
    elif kind == "comments":
        if info.tokenized:
            cut = [
                x[: info.comments[r]] if r in info.comments else x for x, r in zip(lines, rows, strict=True)
            ]
        else:
            cut = _c_style("\n".join(lines), True, None, info.file.relpath.endswith(HASH_LANGS)).split("\n")
        lines = _drop_emptied(lines, cut)
    elif kind == "renamed":
        if info.tokenized:
            mapping: dict[str, str] = {}
            out = []
            for x, r in zip(lines, rows, strict=True):
                for _a, _b, name in info.names.get(r, []):  # left to right: first use gets the lowest number
                    if name not in PY_RESERVED:
                        mapping.setdefault(name, f"v{len(mapping) + 1}")
                for a, b, name in reversed(info.names.get(r, [])):
                    if name in mapping:
                        x = x[:a] + mapping[name] + x[b:]
                out.append(x)
            lines = out
        else:
            lines = _c_style("\n".join(lines), False, {}, info.file.relpath.endswith(HASH_LANGS)).split("\n")
    elif kind == "partial":
        lines = [lines[0][len(lines[0]) // 2 :], *lines[1:-1], lines[-1][: len(lines[-1]) // 2]]
    sep = "\r\n" if kind == "crlf" else "\n"
    return sep.join(lines) + sep


# -- judging -----------------------------------------------------------------------------------------


def judge(
    res: search.SearchResult, f: CorpusFile, lo: int, hi: int, original: str, accept: tuple[str, ...]
) -> dict[str, Any]:
    """Is a match among the results the right one (right verdict, file -- or identical code -- and lines)?"""
    out: dict[str, Any] = {"verdict": res.verdict, "top1": False, "top5": False, "file_top5": False}
    for rank, m in enumerate(res.matches):
        same_file = any((o.repo, o.path) == (f.repo, f.relpath) for o in m.occurrences)
        same_code = same_file or (
            m.source_text is not None and original in m.source_text.replace("\r\n", "\n")
        )
        overlap = any(s.source_lines[0] <= hi and s.source_lines[1] >= lo for s in m.spans)
        if m.verdict in accept and same_file:
            out["file_top5"] = True
        if m.verdict in accept and same_code and (overlap or not same_file):
            out["top5"] = True
            out["top1"] = out["top1"] or rank == 0
    top = res.first()
    if top is not None:
        out["match"] = {"repo": top.primary.repo, "path": top.primary.path, "verdict": top.verdict,
                        "spans": [s.as_dict() for s in top.spans[:3]]}  # fmt: skip
    return out


# -- boilerplate -------------------------------------------------------------------------------------


def boilerplate(texts: list[list[str]], cap: int, want: int) -> list[tuple[str, int]]:
    """Line windows (3-20 non-blank lines, compared stripped) found in more than ``cap`` documents."""
    norm = [[(i, x.strip()) for i, x in enumerate(t) if x.strip()] for t in texts]
    c3: Counter[int] = Counter()
    for nl in norm:
        c3.update({hash(tuple(s for _, s in nl[i : i + 3])) for i in range(len(nl) - 2)})
    common3 = {h for h, c in c3.items() if c > cap}
    counts: Counter[tuple[str, ...]] = Counter()
    first: dict[tuple[str, ...], str] = {}
    for t, nl in zip(texts, norm, strict=True):
        ok = [hash(tuple(s for _, s in nl[i : i + 3])) in common3 for i in range(len(nl) - 2)]
        seen: set[tuple[str, ...]] = set()
        for i in range(len(ok)):
            for size in (3, 4, 5, 6, 8, 10, 12, 16, 20):
                if i + size > len(nl) or not all(ok[i : i + size - 2]):
                    break
                key = tuple(s for _, s in nl[i : i + size])
                seen.add(key)
                first.setdefault(key, "\n".join(t[nl[i][0] : nl[i + size - 1][0] + 1]) + "\n")
        counts.update(seen)
    cands = [(first[k], c) for k, c in counts.items() if c > cap]
    cands.sort(key=lambda kc: (-len(fingerprint.tokenize(kc[0].encode())), -kc[1], kc[0]))
    picked: list[tuple[str, int]] = []
    for text, c in cands:
        if len(picked) < want and not any(text.strip() in p for p, _ in picked):
            picked.append((text, c))
    return picked


def informative(store: Any, text: str, cap: int, views: str) -> int:
    """Tokens of a query not covered by a boilerplate fingerprint, as search counts them: for a verbatim
    match only exact fingerprints mask (``views="exact"``), for a near-duplicate those of both views."""
    toks = fingerprint.tokenize(text.encode())
    qe, qa = fingerprint.kgrams(toks.exact), fingerprint.kgrams(toks.abstract)
    if len(qe) == 0:
        return len(toks)
    common = store.postings(np.concatenate((qe, qa)).view(np.int64), cap).common
    mask = np.zeros(len(toks), dtype=bool)
    arr = np.array(sorted(common), dtype=np.int64).view(np.uint64)
    for kg in (qe, qa) if views == "both" else (qe,):
        for i in np.flatnonzero(np.isin(kg, arr)).tolist():
            mask[i : i + fingerprint.K] = True
    return int((~mask).sum())


def report(records: list[dict[str, Any]], cap: int, gate: str) -> bool:
    """Print the tables, the PASS/FAIL lines and failure examples; whether every target passed."""
    rows = [*MUTATIONS, "negative"]
    print("\nattributable: the unmutated fragment lexes as in its file (it is not cut inside a block comment")
    print("or a multi-line string), and both it and the query have >= 40 tokens not covered by boilerplate")
    print("fingerprints (exact ones; for renamed queries those of either view)")

    def cell(rs: list[dict[str, Any]], col: str) -> str:
        return f"{100 * sum(r[col] for r in rs) / len(rs):5.1f}% ({len(rs)})" if rs else "-"

    for col in ("top5", "top1"):
        where = "any of the top 5" if col == "top5" else "the top match"
        print(f"\n% correct ({where}); negatives: % not attributed")
        print(
            f"{'mutation':<10}" + "".join(f"{L:>13}" for L in LENGTHS) + f"{'>=8 all':>13}{'>=8 attrib.':>13}"
        )
        for row in rows:
            mine = [r for r in records if r["mutation"] == row]
            cells = [cell([r for r in mine if r["length"] == L], col) for L in LENGTHS]
            cells.append(cell([r for r in mine if r["length"] >= 8], col))
            cells.append(cell([r for r in mine if r["length"] >= 8 and r["attributable"]], col))
            print(f"{row:<10}" + "".join(f"{c:>13}" for c in cells))

    def rate(kinds: tuple[str, ...], col: str, only_attributable: bool) -> tuple[float, int]:
        rs = [r for r in records if r["mutation"] in kinds and r["length"] >= 8]
        rs = [r for r in rs if r["attributable"] or not only_attributable]
        return (sum(r[col] for r in rs) / len(rs) if rs else float("nan")), len(rs)

    strict = gate == "attributable"
    other = "all" if strict else "attributable only"
    a, a2 = rate(VERBATIM_KINDS, "top5", strict), rate(VERBATIM_KINDS, "top5", not strict)
    b, b2 = rate(("renamed",), "file_top5", strict), rate(("renamed",), "file_top5", not strict)
    b_lines = rate(("renamed",), "top5", strict)
    negs = [r for r in records if r["kind"] == "negative"]
    bps = [r for r in records if r["kind"] == "boilerplate"]
    c = (sum(r["top5"] for r in negs) / len(negs) if negs else float("nan"), len(negs))
    d = (sum(r["top5"] for r in bps) / len(bps) if bps else float("nan"), len(bps))
    neg_verdicts = dict(Counter(r["verdict"] for r in negs if r["verdict"] != "none"))
    bp40 = sum(1 for r in bps if r["tokens"] >= search.MIN_MATCH_TOKENS)
    scope = "attributable, " if strict else ""
    print()
    ok = True
    for name, (val, n), target, note in (
        (f"(a) verbatim kinds, {scope}>=8 lines: verbatim, right file + lines", a, 0.99,
         f"({other}: {a2[0]:.1%} of {a2[1]})"),
        (f"(b) renamed, {scope}>=8 lines: near-duplicate/verbatim, right file", b, 0.90,
         f"({other}: {b2[0]:.1%} of {b2[1]}; with the right lines too: {b_lines[0]:.1%})"),
        ("(c) negatives not attributed", c, 0.99, f"(attributed: {neg_verdicts})"),
        ("(d) boilerplate not attributed", d, 0.99, f"({bp40} of {d[1]} windows have >= 40 tokens)"),
    ):  # fmt: skip
        if n == 0:
            why = f" (no line window is in more than {cap} documents)" if "(d)" in name else ""
            print(f"SKIP {name}: no queries{why}")
            continue
        ok &= val >= target
        print(
            f"{'PASS' if val >= target else 'FAIL'} {name}: {val:.1%} of {n} (target >= {target:.0%}) {note}"
        )

    print("\nfailures of >= 8 lines (first 5 per mutation, attributable ones first):")
    for row in [*rows, "boilerplate"]:
        bad = [r for r in records if r["mutation"] == row and not r["top5"] and r["length"] >= 8]
        for r in sorted(bad, key=lambda r: not r["attributable"])[:5]:
            m = r.get("match")
            top = f"{m['repo']}:{m['path']} {[s['source_lines'] for s in m['spans']]}" if m else "-"
            tag = "attributable" if r["attributable"] else "not lexable/short" if not r["alike"] else "masked"
            print(f"  {row:<11} {r['repo']}:{r['path']} L{r['lines'][0]}-{r['lines'][1]} ({r['tokens']} tok, "
                  f"{r['informative']} informative, {tag}) -> {r['verdict']}; top: {top}")  # fmt: skip
    return ok


# -- main --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000, help="files to index (held in)")
    ap.add_argument("--fragments-per-cell", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--index", help="index file (default: a temporary one); an existing one is added to")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="write per-fragment results here")
    ap.add_argument(
        "--gate",
        choices=["attributable", "all"],
        default="attributable",
        help="which fragments of >= 8 lines targets (a) and (b) count (default: attributable ones)",
    )
    ap.add_argument("--extra-root", action="append", default=[], metavar="DIR")
    args = ap.parse_args()
    print(f"whence eval_attribution: native kernel={fingerprint.has_native()} seed={args.seed} "
          f"files={args.files} fragments/cell={args.fragments_per_cell}")  # fmt: skip
    rng = random.Random(args.seed)
    allfiles = corpus.gather(seed=args.seed, extra=args.extra_root)
    sizes = Counter(f.family for f in allfiles)
    fams = sorted(sizes)
    random.Random(args.seed + 1).shuffle(fams)
    held_out_fams: set[str] = set()
    for fam in fams:  # hold out whole families, about 30% of the files
        if sum(sizes[x] for x in held_out_fams) + sizes[fam] <= 0.3 * len(allfiles):
            held_out_fams.add(fam)
    held_in = [f for f in allfiles if f.family not in held_out_fams][: args.files]
    held_out = [f for f in allfiles if f.family in held_out_fams]
    print(f"corpus: {len(allfiles)} files, {len(fams)} families ({len(held_out_fams)} held out); "
          f"indexing {len(held_in)}")  # fmt: skip

    tmp = tempfile.TemporaryDirectory(prefix="whence-eval-")
    index = args.index or str(Path(tmp.name) / "index.sqlite")
    built: Any = corpus.build_index(index, held_in, args.workers)
    print(f"index: {built.files} files, {built.bytes / 1e6:.1f} MB in {built.seconds:.1f}s; "
          f"skipped {dict(built.skipped)}")  # fmt: skip
    store = open_store(index, readonly=True)
    documents = int(store.stats()["documents"])
    cap = search.common_cap(documents)

    infos: list[FileInfo] = []
    hashes: set[int] = set()
    texts_by_hash: dict[int, list[str]] = {}
    for f in held_in:
        raw = corpus.read_bytes(f.path)
        if ingest.check_text(raw):
            continue
        info = FileInfo(f, split_lines(raw))
        infos.append(info)
        texts_by_hash.setdefault(hash(raw), info.lines)
        hashes.add(hash(raw))

    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def query(
        kind: str,
        mutation: str,
        length: int,
        text: str,
        f: CorpusFile | None,
        lo: int,
        orig: str,
        alike: bool = True,
    ) -> None:
        res = search.search(store, text, top=5, with_text=True, documents=documents)
        hi = lo + length - 1
        rec: dict[str, Any] = {"kind": kind, "mutation": mutation, "length": length, "tokens": res.tokens}
        rec |= {"repo": f.repo if f else "", "path": f.relpath if f else "", "lines": [lo, hi]}
        rec["informative"] = informative(store, text, cap, "both" if mutation == "renamed" else "exact")
        rec["alike"] = alike
        rec["attributable"] = alike and rec["informative"] >= MIN
        if f is None or kind != "positive":  # negatives and boilerplate: right when nothing is attributed
            rec |= {"verdict": res.verdict, "top1": res.verdict == "none", "top5": res.verdict == "none"}
            if res.matches:
                m = res.matches[0]
                rec["match"] = {"repo": m.primary.repo, "path": m.primary.path, "verdict": m.verdict,
                                "spans": [s.as_dict() for s in m.spans[:3]]}  # fmt: skip
                rec["query"] = text
        else:
            accept = ("verbatim",) if mutation in VERBATIM_KINDS else ("verbatim", "near-duplicate")
            rec |= judge(res, f, lo, hi, orig, accept)
            if not rec["top5"]:
                rec["query"] = text
        records.append(rec)

    for length in LENGTHS:
        pool = [i for i in infos if len(i.lines) >= length]
        for _ in range(args.fragments_per_cell if pool else 0):
            info = rng.choice(pool)
            start = rng.randrange(len(info.lines) - length + 1)
            orig = "\n".join(info.lines[start : start + length])
            # attributable base: lexes as in its file, and enough informative tokens before any mutation
            alike = info.lexes_alike(start, length) and informative(store, orig, cap, "exact") >= MIN
            for mutation in MUTATIONS:
                text = mutate(info, start, length, mutation, rng)
                query("positive", mutation, length, text, info.file, start + 1, orig, alike)
    # Negatives: held-out files that are not copies of indexed ones (forks and vendored copies cross
    # family lines): at most 20% of their distinct long lines (>= 20 characters) may occur in the index.
    indexed_lines = np.unique(
        np.array([_line_hash(x) for t in texts_by_hash.values() for x in t if _long(x)], dtype=np.uint64)
    )
    negatives: list[tuple[CorpusFile, list[str]]] = []
    copies = 0
    for f in held_out[: 20 * args.fragments_per_cell]:
        raw = corpus.read_bytes(f.path)
        if ingest.check_text(raw) or hash(raw) in hashes:
            continue
        lines = split_lines(raw)
        mine = np.unique(np.array([_line_hash(x) for x in lines if _long(x)], dtype=np.uint64))
        pos = np.minimum(np.searchsorted(indexed_lines, mine), max(0, len(indexed_lines) - 1))
        if len(mine) and len(indexed_lines) and (indexed_lines[pos] == mine).mean() > 0.2:
            copies += 1
            continue
        negatives.append((f, lines))
    print(f"negatives from {len(negatives)} held-out files ({copies} more left out: they copy indexed code)")
    for length in LENGTHS:
        npool = [x for x in negatives if len(x[1]) >= length]
        for _ in range(args.fragments_per_cell if npool else 0):
            f, lines = rng.choice(npool)
            start = rng.randrange(len(lines) - length + 1)
            text = "\n".join(lines[start : start + length]) + "\n"
            query("negative", "negative", length, text, f, start + 1, "")
    bp = boilerplate(list(texts_by_hash.values()), cap, args.fragments_per_cell)
    for text, count in bp:
        query("boilerplate", "boilerplate", text.count("\n"), text, None, 0, "")
        records[-1]["documents_with_window"] = count
    elapsed = time.perf_counter() - t0
    ms = 1000 * elapsed / max(1, len(records))
    print(f"{len(records)} queries in {elapsed:.1f}s ({ms:.1f} ms/query, with diagnostics); "
          f"{documents} documents, boilerplate cap {cap}")  # fmt: skip

    ok = report(records, cap, args.gate)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
        print(f"per-fragment results: {args.json}")
    store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
