"""Search against a real index of real code: verdicts, spans, licenses, boilerplate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from whence.errors import InvalidInput
from whence.index import fingerprint as fp
from whence.index import search
from whence.index.stores.sqlite import SQLiteStore

from .mutations import crlf, reindent, rename, strip_comments


def fragment(corpus: Path, rel: str, first: int, last: int) -> str:
    lines = (corpus / rel).read_text().splitlines(keepends=True)
    return "".join(lines[first - 1 : last])


def test_exact_fragment_is_verbatim_with_lines(store: SQLiteStore, corpus: Path) -> None:
    code = fragment(corpus, "difflib.py", 410, 445)
    res = search.search(store, code)
    assert res.verdict == "verbatim"
    top = res.matches[0]
    assert (top.primary.repo, top.primary.path) == ("python/cpython", "difflib.py")
    first, last = top.spans[0].source_lines
    assert first <= 445 and last >= 410
    assert top.primary.licenses == ("PSF-2.0",)


@pytest.mark.parametrize("mutate", [reindent, strip_comments, crlf], ids=["reindent", "comments", "crlf"])
def test_reformatted_fragment_is_still_verbatim(store: SQLiteStore, corpus: Path, mutate: object) -> None:
    code = fragment(corpus, "argparse.py", 1180, 1215)
    assert callable(mutate)
    res = search.search(store, mutate(code))
    assert res.verdict == "verbatim"
    assert res.matches[0].primary.path == "argparse.py"
    s0, s1 = res.matches[0].spans[0].source_lines
    assert s0 <= 1215 and s1 >= 1180


def test_renamed_fragment_is_near_duplicate(store: SQLiteStore, corpus: Path) -> None:
    code = rename(fragment(corpus, "heapq.py", 258, 300))
    res = search.search(store, code)
    assert res.verdict == "near-duplicate"
    assert res.matches[0].primary.path == "heapq.py"


def test_partial_lines_at_edges(store: SQLiteStore, corpus: Path) -> None:
    code = fragment(corpus, "textwrap.py", 252, 290)
    res = search.search(store, code[17:-23])
    assert res.verdict == "verbatim"
    assert res.matches[0].primary.path == "textwrap.py"


def test_unrelated_code_is_not_attributed(store: SQLiteStore) -> None:
    code = '''
def schedule_orders(orders, capacity):
    """Greedy packing of orders into trucks, largest first."""
    trucks = []
    for order in sorted(orders, key=lambda o: o.weight, reverse=True):
        for truck in trucks:
            if truck.load + order.weight <= capacity:
                truck.add(order)
                break
        else:
            trucks.append(Truck([order]))
    return trucks
'''
    res = search.search(store, code)
    assert res.verdict == "none"
    assert res.matches == []


def test_query_lines_map_to_the_query(store: SQLiteStore, corpus: Path) -> None:
    prefix = "x_unrelated = compute_something_else(1, 2, 3)\n" * 3
    code = prefix + fragment(corpus, "heapq.py", 200, 240)
    res = search.search(store, code)
    span = res.matches[0].spans[0]
    assert span.query_lines[0] >= 4  # the unrelated prefix is not part of the match


def test_short_snippet_is_not_attributed(store: SQLiteStore, corpus: Path) -> None:
    res = search.search(store, fragment(corpus, "difflib.py", 130, 131))
    assert res.verdict == "none"


def test_boilerplate_does_not_attribute(tmp_path: Path) -> None:
    """A block that occurs in more files than the boilerplate cap never attributes on its own."""
    from whence.index import ingest
    from whence.index.stores import open_store

    boiler = "".join(
        f"    parser.add_argument('--opt{i}', type=int, default={i}, help='option {i}')\n" for i in range(8)
    )
    root = tmp_path / "many"
    root.mkdir()
    for i in range(search.COMMON_MIN_CAP + 6):
        own = "".join(
            f"    total_{i}_{j} = weigh_{i}(items[{j}], factor={i * 31 + j}) + offset_{j}\n" for j in range(6)
        )
        body = f"def main_{i}(argv, items):\n{own}    parser = make_parser({i})\n{boiler}    return parser\n"
        (root / f"tool_{i}.py").write_text(body)
    with open_store(tmp_path / "i.sqlite", create=True) as st:
        ingest.build(st, ingest.sources([root], repo="acme/tools"), workers=1)
        assert search.search(st, boiler).verdict == "none"
        # A copy of one whole file still attributes, to that file, on its own lines.
        whole = (root / "tool_7.py").read_text()
        res = search.search(st, whole)
        assert res.verdict == "verbatim"
        assert res.matches[0].primary.path == "tool_7.py"


def test_json_shape(store: SQLiteStore, corpus: Path) -> None:
    res = search.search(store, fragment(corpus, "csv.py", 80, 120)).as_dict()
    assert set(res) == {"query", "verdict", "matches"}
    assert set(res["query"]) == {"lines", "tokens"}
    m = res["matches"][0]
    assert set(m) == {
        "repo", "path", "blob_id", "url", "licenses", "license_category", "attribution_required", "verdict",
        "score", "evidence", "confidence", "matched_tokens", "longest_span_tokens", "spans", "occurrences",
    }  # fmt: skip
    assert m["evidence"] == "exact-run" and m["confidence"] == search.EVIDENCE["exact-run"][1]
    assert m["license_category"] == "permissive" and m["attribution_required"] is True
    assert m["url"].startswith("https://github.com/python/cpython/blob/") and "#L" in m["url"]
    assert set(m["spans"][0]) == {"query_lines", "source_lines", "tokens"}
    assert 0 < m["score"] <= 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (b"\x00\x01binary", "binary"),
        (b"caf\xe9 = 1", "UTF-8"),
        (b"x" * (search.MAX_QUERY_BYTES + 1), "limit"),
    ],
)
def test_bad_queries_raise_clear_errors(store: SQLiteStore, code: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        search.search(store, code)


def test_snippet_from_inside_a_docstring(store: SQLiteStore, corpus: Path) -> None:
    # argparse's module docstring: prose first, then the closing quotes, then code.
    text = (corpus / "argparse.py").read_text().splitlines(keepends=True)
    end = next(i for i, line in enumerate(text) if line.startswith('"""') and i > 5)
    code = "".join(text[end - 12 : end + 12])
    res = search.search(store, code)
    assert res.verdict == "verbatim"
    assert res.matches[0].primary.path == "argparse.py"


def test_order_keys_come_from_the_content(store: SQLiteStore) -> None:
    """Tied candidates are ordered by the first 63 bits of their content hash -- what the engine store
    uses as its document ids -- so both stores align the same candidates in the same order."""
    import sqlite3

    from whence.index.stores.elastic import doc_id

    db = sqlite3.connect(store.path)
    rows = db.execute("SELECT id, content_hash FROM documents ORDER BY id LIMIT 20").fetchall()
    db.close()
    keys = store.order_keys([r[0] for r in rows])
    assert keys == {i: doc_id(bytes(h)) for i, h in rows}
    assert sorted(keys, key=keys.__getitem__) != [r[0] for r in rows]  # not simply the id order


def test_past_the_first_candidates_a_document_sharing_only_a_band_is_not_aligned() -> None:
    """A document sharing an LSH band with a query but none of the k-grams it looked up (a JDK file whose
    license header is most of it, for a query cut from the middle of that header) is aligned only among
    the first :data:`~whence.index.candidates.MIN_CANDIDATES`; past them, those with as many votes that
    hold one of its k-grams are."""
    from whence.index import candidates

    first = candidates.MIN_CANDIDATES - 2
    votes = {d: 10 for d in range(first)}
    votes |= {100 + d: candidates.BAND_VOTES for d in range(4)}  # band-only
    votes[200] = candidates.BAND_VOTES  # two k-grams, no band

    def order_keys(ids: Sequence[int]) -> dict[int, int]:
        return {d: d for d in ids}

    band_only = {100, 101, 102, 103}
    assert candidates.rank(votes, order_keys, band_only) == [*range(first), 100, 101, 200]
    assert candidates.rank(votes, order_keys) == [*range(first), 100, 101, 102, 103, 200]


def test_one_vote_candidates_wait_for_a_verbatim_match(
    store: SQLiteStore, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates sharing one fingerprint are aligned only while no verbatim match explains the query: a
    long query stops at its first verbatim match, a short one (every k-gram looked up, few candidates) at
    the first that holds all of it; a query that nothing explains verbatim still aligns them.  Those
    sharing two are not aligned once one holds all of a longer query (the case is exercised by
    test_verdicts' test_a_candidate_sharing_two_fingerprints_waits_for_a_match_holding_the_whole_query)."""
    from whence.index import candidates

    seen: dict[str, object] = {}
    real_rank, real_judge = candidates.rank, search.judge

    def rank(votes: dict[int, int], order_keys: object, band_only: object = ()) -> list[int]:
        got = real_rank(votes, order_keys, band_only)  # type: ignore[arg-type]
        seen["votes"], seen["ranked"] = votes, got
        return got

    # per candidate aligned in the first pass, in rank order: whether its match stops the one-vote ones
    stops: list[bool] = []
    wholes: list[bool] = []  # ... whether it holds all of the query verbatim
    short = [False]  # the query's: every k-gram of its lexing looked up

    def judge(q: Any, dtok: object, *args: object, **kwargs: object) -> object:
        found = real_judge(q, dtok, *args, **kwargs)  # type: ignore[arg-type]
        if not kwargs.get("weak"):
            whole = found.matched >= len(q.tokens)
            stops.append(found.verdict == "verbatim" and (not short[0] or whole))
            wholes.append(found.verdict == "verbatim" and whole)
        return found

    monkeypatch.setattr(candidates, "rank", rank)
    monkeypatch.setattr(search, "judge", judge)
    stopped = aligned_lone = 0
    kinds: set[bool] = set()
    for rel in ("difflib.py", "argparse.py", "heapq.py", "textwrap.py", "calendar.py", "statistics.py"):
        n = len((corpus / rel).read_text().splitlines())
        for first in range(60, n - 40, 45):
            for code in (
                fragment(corpus, rel, first, first + 9),
                rename(fragment(corpus, rel, first, first + 14)),
                fragment(corpus, rel, first, first + 39),
            ):
                stops.clear()
                wholes.clear()
                toks = search.lookup_lexings(code.encode(), None)[1]
                short[0] = len(toks) - fp.K + 1 <= candidates.SHORT_QUERY_KGRAMS
                search.search(store, code)
                votes, ranked = seen.pop("votes", {}), seen.pop("ranked", [])
                assert isinstance(votes, dict) and isinstance(ranked, list)
                for i in range(len(stops)):
                    if votes[ranked[i]] < candidates.SECOND_VOTES:
                        assert not any(stops[:i])  # aligned only while nothing explains the query
                        aligned_lone += 1
                    if not short[0] and votes[ranked[i]] <= candidates.SECOND_VOTES:
                        assert not any(wholes[:i])  # ... nor, sharing two, once one holds all of it
                if len(stops) < len(ranked) and votes[ranked[len(stops)]] < candidates.SECOND_VOTES:
                    assert any(stops)
                    stopped += 1
                    kinds.add(short[0])
    assert stopped and aligned_lone  # both sides of the rule were exercised
    assert kinds == {True, False}  # by short queries and by long ones
