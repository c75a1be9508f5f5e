"""The evaluation scripts run end to end at a tiny size: a real index in a temporary folder, real corpus
files, the scripts run as the docs say (``python scripts/eval/X.py``), and the JSON they write has the
cells it promises, with the easy ones (L1 copies, unmodified 30-line fragments) found."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_java
from tree_sitter import Language, Parser

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ["L1", "L2", "L3", "L4", "L5", "L6"]


def run_eval(script: str, tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    out = tmp_path / "out.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "eval" / script), *args, "--json", str(out)]
    cmd += ["--index", str(tmp_path / "index.sqlite")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(out.read_text()), r.stdout


def test_attribution_eval_refuses_an_existing_index(tmp_path: Path) -> None:
    """A build adds to an existing index, and negatives are only negative against the held-in files: an
    earlier run's index is refused before anything is read, and left as it was."""
    old = tmp_path / "index.sqlite"
    old.write_bytes(b"an earlier run's index")
    cmd = [sys.executable, str(ROOT / "scripts" / "eval" / "attribution.py"), "--index", str(old)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "exists: the evaluation needs a fresh index" in r.stderr, r.stderr
    assert old.read_bytes() == b"an earlier run's index"


def test_programs_eval_tiny(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    data, out = run_eval(
        "programs.py", tmp_path, "--copies", "1", "--variants", "2", "--distractors", "30",
        "--tasks", "sieve,stats,grades", "--dump", str(dump),
    )  # fmt: skip
    cells = data["cells"]
    assert set(cells) == {*LEVELS, "obfuscated", "independent"}
    assert [cells[lv]["n"] for lv in LEVELS] == [3] * 6
    assert cells["obfuscated"]["n"] == 6 and cells["independent"]["n"] == 6
    for cell in [*LEVELS, "obfuscated"]:
        assert set(cells[cell]["whence"]) >= {"right", "right_top5", "wrong", "flagged", "wrong_of_flags"}
        assert set(cells[cell]["baseline"]) >= {"right", "wrong", "flagged"}
    assert set(cells["independent"]["whence"]) == {"own_original", "any_original", "flagged"}
    assert cells["L1"]["whence"]["right"] >= 2 / 3
    assert cells["L1"]["baseline"]["right"] >= 2 / 3  # a layout change leaves most 5-token shingles
    assert data["settings"]["baseline"] == {
        "num_perm": 256, "shingle": 5, "threshold": 0.15, "tokens": "[^A-Za-z_0-9]+"
    }  # fmt: skip
    assert "L6" in out and "baseline right" in out
    # every generated copy and variant is still Java that parses
    parser = Parser(Language(tree_sitter_java.language()))
    files = sorted(dump.rglob("*.java"))
    assert len(files) == 3 * 6 + 6 + 6
    broken = [f.name for f in files if parser.parse(f.read_bytes()).root_node.has_error]
    assert not broken, broken
    if shutil.which("javac"):  # and compiles, where a JDK is installed (one javac for all of them)
        sources = []
        for i, f in enumerate(files):
            cls = f.read_text().split("public class ", 1)[1].split()[0]
            (tmp_path / "src" / str(i)).mkdir(parents=True)
            sources.append(tmp_path / "src" / str(i) / f"{cls}.java")
            sources[-1].write_text(f.read_text())
        cmd = ["javac", "-d", str(tmp_path / "classes"), *map(str, sources)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[:3000]


def test_attribution_eval_tiny(tmp_path: Path) -> None:
    data, out = run_eval(
        "attribution.py", tmp_path, "--files", "90", "--fragments-per-cell", "4", "--clean", "8",
        "--languages", "python,java,go", "--queries",
    )  # fmt: skip
    langs, muts, lengths = (
        ["go", "java", "python"],
        ["exact", "reindent", "comments", "crlf", "renamed"],
        [8, 15, 30],
    )
    assert data["settings"]["languages"] == langs
    assert set(data["cells"]) == {f"{a}/{b}/{c}" for a in langs for b in muts for c in lengths}
    for cell in data["cells"].values():
        assert set(cell) == {"n", "recall", "precision", "flagged"} and cell["n"] == 4
    assert set(data["overall"]) == {"verbatim kinds", "renamed"}
    easy = [data["cells"][f"{lang}/exact/30"]["recall"] for lang in langs]
    assert sum(easy) / len(easy) >= 0.5, easy
    assert data["negatives"]["negative"]["n"] > 0
    # every independent solution: whole, and a fragment of each length it has (all have 8 lines)
    tasks = [d for d in (ROOT / "scripts" / "eval" / "programs").iterdir() if d.is_dir()]
    solutions = sum(len(list(d.glob("Solution*.java"))) - 1 for d in tasks)
    assert solutions >= 50
    assert 2 * solutions < data["negatives"]["independent"]["n"] <= 4 * solutions
    assert data["clean"]["n"] > 0 and "false_alarms" in data["clean"]
    kinds = {r["kind"] for r in data["records"]}
    assert {"positive", "negative", "independent", "clean"} <= kinds
    assert "verbatim kinds" in out and "clean files" in out
    # The bar's denominator: fragments whose query holds code, the rest counted apart.
    for name in ("verbatim kinds", "renamed"):
        o = data["overall"][name]
        assert o["with_code"]["n"] == sum(
            1 for r in data["records"] if r["kind"] == "positive" and r["tokens"] >= 16
            and (r["mutation"] == "renamed") == (name == "renamed")
        )  # fmt: skip
    assert "hold no code" in out
    # --queries: every query's text is kept, found or not (by default only misses' and false alarms')
    assert all(r["query"] for r in data["records"] if r["kind"] == "positive" and r["tokens"] >= 16)

    # misses.py explains every missed positive of that run, from its JSON and its index.
    rows_path = tmp_path / "misses.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "eval" / "misses.py"), str(tmp_path / "out.json"),
           "--index", str(tmp_path / "index.sqlite"), "--json", str(rows_path)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = json.loads(rows_path.read_text())
    missed = [x for x in data["records"] if x["kind"] == "positive" and not x["right5"]]
    assert len(rows) == len(missed) > 0
    causes = {"e-empty", "a-no-shared", "b-threshold", "c-elsewhere", "d-boilerplate"}
    assert {x["cause"] for x in rows} <= causes
    # a query with fewer than K tokens is empty; one that is not is never called so
    for x in rows:
        assert (x["cause"] == "e-empty") == (x["query_tokens"] < 16), x
    assert f"{len(missed)} of" in r.stdout and "by language" in r.stdout
    # its recall over the fragments with code is the run's own, and again with boilerplate aside
    for name, o in data["overall"].items():
        rs = [x for x in data["records"] if x["kind"] == "positive" and x["tokens"] >= 16
              and (x["mutation"] == "renamed") == (name == "renamed")]  # fmt: skip
        right = sum(1 for x in rs if x["right5"])
        assert right == round(o["with_code"]["recall"] * len(rs))
        plate = sum(
            1
            for x in rows
            if x["cause"] == "d-boilerplate" and (x["mutation"] == "renamed") == (name == "renamed")
        )
        assert f"with code: {right} of {len(rs)} right" in r.stdout
        assert f"boilerplate aside: {right} of {len(rs) - plate}" in r.stdout


def test_search_compare_runs_two_versions_side_by_side(tmp_path: Path) -> None:
    """The same-run latency comparison, at a tiny size, of this commit against itself: a real worktree
    of HEAD with its own kernel, two indexes, the same verdicts on both sides."""
    out = tmp_path / "cmp.json"
    cmd = [
        sys.executable, str(ROOT / "scripts" / "bench" / "search_compare.py"), "--before", "HEAD",
        "--files", "300", "--queries", "12", "--warmup", "2", "--rounds", "2", "--json", str(out),
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "same verdict on 12 of 12 queries" in r.stdout
    assert "wall ratio" in r.stdout and "cpu ratio" in r.stdout
    data = json.loads(out.read_text())
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    # the earlier commit, beside the before side's times
    assert len(data["revision"]) >= 7 and head.stdout.startswith(data["revision"])
    for side in ("before", "after"):
        assert len(data[side]["wall"]) == len(data[side]["cpu"]) == 12
        assert all(t > 0 for t in data[side]["wall"])
    listed = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True)
    assert "whence-search-compare-" not in listed.stdout  # its worktree is gone


# A Java fragment cut inside a Javadoc, with a comment opened on its last line and never closed.
_CUT_IN_COMMENT = """     * Returns the count of the entries held in this table.
     */
    int count(Table table) {
        return table.size(); /* the size is cached
         so that counting twice"""


def test_renamed_mutation_renames_code_not_the_prose_of_a_cut_comment(tmp_path: Path) -> None:
    # A copier renames identifiers, not the words of a comment: the head cut inside a block comment and
    # the tail of a comment left open stay as they are; the code between is renamed.
    code = "import json, sys, mutate; print(json.dumps(mutate.c_style(sys.stdin.read(), False, {}, 'java')))"
    r = subprocess.run([sys.executable, "-c", code], input=_CUT_IN_COMMENT, capture_output=True, text=True,
                       timeout=60, cwd=ROOT / "scripts" / "eval")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = json.loads(r.stdout).split("\n")
    assert lines[:2] == _CUT_IN_COMMENT.split("\n")[:2]
    assert lines[2] == "    int v1(v2 v3) {"
    assert lines[3] == "        return v3.size(); /* the size is cached"
    assert lines[4] == "         so that counting twice"


_MEMBERS_PY = """def total(items):
    count = 0
    for item in items:
        count += item.weight
    items.append(count)
    return len(items), self.cache.get(count)
"""


def test_harsher_renaming_mutations_rename_members_or_self_too(tmp_path: Path) -> None:
    # ``renamed`` keeps the members a copier reaches with "." (a library's calls: ``.append``); the harsher
    # ``renamed-all`` renames them too, the language's words and builtins aside, in Python (tokenize) and
    # in the C-like languages (the regular lexer).
    src = tmp_path / "m.py"
    src.write_text(_MEMBERS_PY)
    code = (
        "import json, random, sys, mutate\n"
        "from whence_dev.corpus import CorpusFile\n"
        "lines = open(sys.argv[1]).read().split('\\n')\n"
        "info = mutate.FileInfo(CorpusFile(sys.argv[1], 'r', 'm.py', ()), lines)\n"
        "kinds = ('renamed', 'renamed-all', 'renamed-self')\n"
        "out = {k: mutate.mutate(info, 0, 6, k, random.Random(1)) for k in kinds}\n"
        "java = 'int n = list.size(); this.seen.add(n);'\n"
        "out['java'] = mutate.c_style(java, False, {}, 'java', False, True)\n"
        "print(json.dumps(out))"
    )
    r = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True, timeout=60,
                       cwd=ROOT / "scripts" / "eval")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["renamed"].split("\n")[3:5] == ["        v3 += v4.weight", "    v2.append(v3)"]
    assert out["renamed"].split("\n")[5] == "    return len(v2), self.v5.get(v3)"
    assert out["renamed-all"].split("\n")[3:5] == ["        v3 += v4.v5", "    v2.v6(v3)"]
    assert out["renamed-all"].split("\n")[5] == "    return len(v2), self.v7.v8(v3)"
    assert out["java"] == "int v1 = v2.v3(); this.v4.v5(v1);"
    # ``renamed-self``: Python's ``self`` too, a name by convention only.
    assert out["renamed-self"].split("\n")[5] == "    return len(v2), v5.v6.get(v3)"


def test_a_clean_file_or_negative_that_copies_indexed_text_is_told_apart() -> None:
    # The rule that keeps forks out of the negatives and copies out of the clean files: more than 20 % of
    # a file's distinct long lines (>= 20 characters) in the index.  Short lines never count.
    code = (
        "import json, sys, numpy as np, attribution as a\n"
        "lines = json.load(sys.stdin)\n"
        "h = [a._line_hash(x) for x in lines['indexed'] if a._long(x)]\n"
        "idx = np.unique(np.array(h, dtype=np.uint64))\n"
        "print(json.dumps([a.copies_index(f, idx) for f in lines['files']]))\n"
    )
    indexed = [f"    value_{i} = compute_something_long({i}, scale=2)" for i in range(10)]
    files = [
        indexed[:3] + [f"an original line of prose number {i} here" for i in range(7)],  # 3 of 10: a copy
        indexed[:2] + [f"an original line of prose number {i} here" for i in range(8)],  # 2 of 10: not
        ["x = 1", "y = 2"] * 5,  # no long line at all
    ]
    r = subprocess.run([sys.executable, "-c", code], input=json.dumps({"indexed": indexed, "files": files}),
                       capture_output=True, text=True, timeout=60, cwd=ROOT / "scripts" / "eval")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout) == [True, False, False]


def test_a_clean_file_that_quotes_indexed_prose_rewrapped_is_told_apart() -> None:
    # A README quoting a passage of its module's docstring with other line breaks holds no indexed line,
    # yet it copies indexed text: a run of 20 words (split on non-alphanumerics) tells it apart; 19 do not.
    code = (
        "import json, sys, numpy as np, attribution as a\n"
        "t = json.load(sys.stdin)\n"
        "idx = a.word_runs(t['indexed'])\n"
        "print(json.dumps([a.quotes_index(f, idx) for f in t['files']]))\n"
    )
    words = [f"word{i}" for i in range(30)]
    indexed = '    def f(x):\n        """' + " ".join(words) + '."""\n'
    files = [
        "# Usage\n\n" + "\n".join(" ".join(words[i : i + 5]) for i in range(0, 20, 5)) + "\n",
        "# Usage\n\n" + " ".join(words[:19]) + " other words here\n",
    ]
    r = subprocess.run([sys.executable, "-c", code], input=json.dumps({"indexed": indexed, "files": files}),
                       capture_output=True, text=True, timeout=60, cwd=ROOT / "scripts" / "eval")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout) == [True, False]


def test_a_module_named_license_is_no_clean_license_file() -> None:
    # A license file is named so in no programming language: cyclonedx's model/license.py and npm's
    # package-json/lib/license.js are code about licenses, indexed like any module (two were flagged as
    # their own copies when they counted as clean license files).
    code = (
        "import json, sys, cleanfiles as c\n"
        "from pathlib import Path\n"
        "print(json.dumps([c._license(Path(n)) for n in json.load(sys.stdin)]))\n"
    )
    names = ["LICENSE", "COPYING.LESSER", "LICENSE-MIT", "LICENSE.txt", "NOTICE.md", "LICENCE.rst",
             "license.py", "license.js", "license_addition.py", "README.md"]  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], input=json.dumps(names),
                       capture_output=True, text=True, timeout=60, cwd=ROOT / "scripts" / "eval")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout) == [True] * 6 + [False] * 4


@pytest.mark.slow
def test_build_compare_alternates_two_versions_builds(tmp_path: Path) -> None:
    """``scripts/bench/build_compare.py`` builds the same files with an earlier commit (its own worktree
    and kernel) and with this checkout, alternated, and compares the medians; against this checkout's
    own commit both sides are the same code, and the worktree is gone afterwards."""
    cmd = [sys.executable, str(ROOT / "scripts" / "bench" / "build_compare.py"), "--before", "HEAD",
           "--files", "40", "--pairs", "2"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    pairs = [ln for ln in r.stdout.splitlines() if ln.startswith("  pair ")]
    assert len(pairs) == 2 and all("before" in ln and "after" in ln for ln in pairs)
    assert "median: before" in r.stdout and "build MB/s after/before" in r.stdout
    trees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True)
    assert "whence-build-compare-" not in trees.stdout
