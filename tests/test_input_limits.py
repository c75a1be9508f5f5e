"""Hostile and broken input on the build and search side (issue 15): huge and sparse files, FIFOs,
endless standard input, file names that are not UTF-8, and control sequences in index data.  Real files,
real ``whence`` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from whence.terminal import printable

WHENCE = [sys.executable, "-m", "whence"]
RSS_LIMIT_KB = 300 * 1024
CODE = "".join(f"def function_{i}(alpha, beta):\n    return alpha * {i} + beta - {i}\n\n" for i in range(30))

# Peak resident memory of one ``whence`` process, from a wrapper whose only child it is.
_PEAK = """
import resource, subprocess, sys
stdin = open(sys.argv[1], "rb") if sys.argv[1] != "-" else subprocess.DEVNULL
res = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True, timeout=300)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(res.returncode)
sys.stdout.write(res.stdout.decode("utf-8", "replace") + "\\0" + res.stderr.decode("utf-8", "replace"))
"""


def _peak(args: list[str], stdin: str = "-") -> tuple[int, int, str, str]:
    """Peak RSS (KiB), exit code, stdout and stderr of ``whence ARGS``."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, stdin, *WHENCE, *args], capture_output=True, text=True, check=True
    ).stdout
    rss, rc, rest = out.split("\n", 2)
    stdout, stderr = rest.split("\0", 1)
    return int(rss), int(rc), stdout, stderr


def _whence(*args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WHENCE, *args], input=input, capture_output=True, text=True, timeout=timeout)


def _sparse(path: Path, size: int = 2 << 30) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


# -- Finding 2: sizes checked before reading, reads bounded, FIFOs skipped -------------------------------


def test_build_of_two_sparse_2gb_files_stays_small_and_reports_what_it_indexed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _sparse(src / "a.py")
    _sparse(src / "b.py")
    (src / "ok.py").write_text(CODE)
    rss, rc, out, err = _peak(
        ["index", "build", str(src), "--index", str(tmp_path / "i.sqlite"), "--format", "json"]
    )
    assert rc == 0, err
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"
    report = json.loads(out)
    assert report["skipped"] == {"too_large": 2}
    assert report["files"] == 3 and report["documents_added"] == 1
    assert report["bytes"] == len(CODE.encode())  # what was indexed, not the sparse size


def test_a_2gb_jsonl_line_is_skipped_without_being_held(tmp_path: Path) -> None:
    jsonl = tmp_path / "big.jsonl"
    with jsonl.open("wb") as fh:
        fh.write(json.dumps({"repo": "o/r", "path": "a.py", "content": CODE}).encode() + b"\n")
        fh.seek(2 << 30)  # a 2 GB line of NUL bytes (a hole: no disk used)
        fh.write(b"\n" + json.dumps({"repo": "o/r", "path": "b.py", "content": CODE + "x = 1\n"}).encode())
    rss, rc, out, err = _peak(
        ["index", "build", str(jsonl), "--index", str(tmp_path / "i.sqlite"), "--license-type", "all",
         "--format", "json"]
    )  # fmt: skip
    assert rc == 0, err
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"
    report = json.loads(out)
    assert report["skipped"] == {"too_large": 1} and report["documents_added"] == 2


def test_search_refuses_a_sparse_2gb_file_by_its_size(tmp_path: Path) -> None:
    big = _sparse(tmp_path / "big.py")
    rss, rc, _, err = _peak(["search", str(big), "--index", str(tmp_path / "none.sqlite")])
    assert rc == 2 and "larger than the query limit" in err and "Traceback" not in err, err
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"


def test_search_reads_no_more_than_the_limit_from_a_device_or_stdin(tmp_path: Path) -> None:
    rss, rc, _, err = _peak(["search", "/dev/zero", "--index", str(tmp_path / "none.sqlite")])
    assert rc == 2 and "larger than the query limit" in err and "Traceback" not in err, err
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"
    # A 3 GB standard input (a sparse file: no disk used) is refused after the limit and one byte.
    big = _sparse(tmp_path / "stdin", 3_000_000_000)
    rss, rc, _, err = _peak(["search", "-", "--index", str(tmp_path / "none.sqlite")], stdin=str(big))
    assert rc == 2 and "standard input is larger than the query limit" in err, err
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} KiB"


def test_search_of_dev_zero_under_a_memory_limit_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("ulimit -v as on Linux")
    cmd = " ".join([*WHENCE, "search", "/dev/zero", "--index", str(tmp_path / "none.sqlite")])
    res = subprocess.run(
        ["bash", "-c", f"ulimit -v 1500000; {cmd}"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2 and "larger than the query limit" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr


def test_a_fifo_in_a_folder_is_skipped_and_counted_without_blocking(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.py").write_text(CODE)
    os.mkfifo(src / "pipe.py")  # nobody ever writes to it: opening it for reading would wait forever
    start = time.monotonic()
    res = _whence(
        "index", "build", str(src), "--index", str(tmp_path / "i.sqlite"), "--format", "json", timeout=60
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["skipped"] == {"not_regular": 1} and report["documents_added"] == 1
    # The whole build (a Python process starting included) is quick; the FIFO costs no wait at all.
    assert time.monotonic() - start < 30


def test_a_fifo_is_skipped_within_a_second(tmp_path: Path) -> None:
    from whence.index import ingest

    os.mkfifo(tmp_path / "pipe.py")
    start = time.monotonic()
    files = list(ingest.sources([str(tmp_path)], repo="o/r"))
    prepared = [ingest.prepare(f, set()) for f in files]
    assert time.monotonic() - start < 1.0
    assert [p.skipped for p in prepared] == ["not_regular"]


def test_search_still_reads_a_pipe_it_is_given(tmp_path: Path) -> None:
    """``whence search <(cmd)`` names a pipe: search reads it (bounded), unlike a folder build."""
    res = subprocess.run(
        ["bash", "-c", f"{' '.join(WHENCE)} search <(printf 'x = 1\\n') --index {tmp_path / 'none.sqlite'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2 and "no index at" in res.stderr, res.stderr  # it got past reading


# -- Finding 6: any file name POSIX allows ---------------------------------------------------------------


def test_build_takes_names_that_are_not_utf8(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    names = [b"caf\xe9 \xff.py", b"new\nline.py", b"with space.py", "ünïcode.py".encode()]
    for i, name in enumerate(names):
        with open(os.path.join(os.fsencode(src), name), "wb") as fh:
            fh.write(CODE.replace("alpha", f"alpha{i}").encode())
    db = tmp_path / "i.sqlite"
    res = _whence("index", "build", str(src), "--index", str(db), "--repo", "o/r", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["documents_added"] == 4
    # Searching each file finds it under its stored name; the JSON holds no lone surrogates.
    found = set()
    for i in range(len(names)):
        res = _whence(
            "search", "--index", str(db), "--format", "json", input=CODE.replace("alpha", f"alpha{i}")
        )
        assert res.returncode == 0, res.stderr
        res.stdout.encode("utf-8")  # strict: raises on a lone surrogate
        found.add(json.loads(res.stdout)["matches"][0]["path"])
    assert found == {"caf\\xe9 \\xff.py", "new\nline.py", "with space.py", "ünïcode.py"}


def test_jsonl_fields_with_lone_surrogates_are_stored_escaped(tmp_path: Path) -> None:
    jsonl = tmp_path / "s.jsonl"
    record = json.dumps({"repo": "o/r", "path": "a\udcffb.py", "content": CODE})  # the JSON holds \\udcff
    assert "\\udcff" in record
    jsonl.write_text(record + "\n")
    db = tmp_path / "i.sqlite"
    res = _whence("index", "build", str(jsonl), "--index", str(db), "--license-type", "all")
    assert res.returncode == 0, res.stderr
    res = _whence("search", "--index", str(db), "--format", "json", input=CODE)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["matches"][0]["path"] == "a\\udcffb.py"


# -- Finding 7: no control sequence from the index reaches the terminal --------------------------------

HOSTILE = {
    "repo": "evil/\x1b[2Jrepo",
    "path": "\x1b]0;owned title\x07src/\x9b31mfile.py",
    "licenses": ["MIT\x1b]8;;https://attacker.example/\x1b\\click\x1b]8;;\x1b\\"],
}


def test_control_sequences_in_index_data_never_reach_the_terminal(tmp_path: Path) -> None:
    record = {**HOSTILE, "content": CODE + "# \x1b[31m red \x7f\n"}
    jsonl = tmp_path / "evil.jsonl"
    jsonl.write_text(json.dumps(record) + "\n")
    db = tmp_path / "i.sqlite"
    res = _whence(
        "index", "build", str(jsonl), "--index", str(db), "--license-type", "all", "--format", "json"
    )
    assert res.returncode == 0, res.stderr

    wide = {**os.environ, "COLUMNS": "400"}  # the whole title line, license badge included
    res = subprocess.run(
        [*WHENCE, "search", "--index", str(db)],
        input=CODE.encode(),
        capture_output=True,
        timeout=120,
        env=wide,
    )
    assert res.returncode == 0, res.stderr
    text = res.stdout.decode("utf-8")
    bad = [c for c in text if c in "\x1b\x07\x7f" or "\x80" <= c <= "\x9f"]
    assert not bad, bad
    assert "evil/\\x1b[2Jrepo" in text and "\\x1b]8;;https://attacker.example/" in text

    res = _whence("search", "--index", str(db), "--format", "json", input=CODE)
    match = json.loads(res.stdout)["matches"][0]
    assert (match["repo"], match["path"], match["licenses"]) == (
        HOSTILE["repo"], HOSTILE["path"], HOSTILE["licenses"],
    )  # fmt: skip


def test_control_sequences_in_index_data_never_reach_the_terminal_from_scan(tmp_path: Path) -> None:
    """``whence scan``'s text report names the origin (repository, path, licenses, URL) from the index:
    escaped there too, OSC as well as CSI."""
    jsonl = tmp_path / "evil.jsonl"
    jsonl.write_text(json.dumps({**HOSTILE, "content": CODE}) + "\n")
    db = tmp_path / "i.sqlite"
    res = _whence("index", "build", str(jsonl), "--index", str(db), "--license-type", "all")
    assert res.returncode == 0, res.stderr
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "copied.py").write_text(CODE)
    res = subprocess.run([*WHENCE, "scan", str(repo), "--index", str(db)], capture_output=True, timeout=120)
    assert res.returncode in (0, 1), res.stderr
    text = res.stdout.decode("utf-8")
    assert "copied.py" in text and "evil/\\x1b[2Jrepo" in text, text
    bad = [c for c in text if c in "\x1b\x07\x7f" or "\x80" <= c <= "\x9f"]
    assert not bad, bad


def test_printable_escapes_controls_and_keeps_unicode() -> None:
    assert printable("a\x1b[2Jb\x07\x7f\x9b\x85\n") == "a\\x1b[2Jb\\x07\\x7f\\x9b\\x85\\n"
    assert printable("naïve — 中文 🙂") == "naïve — 中文 🙂"
    assert printable("a\tb") == "a\\tb" and printable("a\tb\x1b", keep_tabs=True) == "a\tb\\x1b"
    assert printable("x\udcff").encode("utf-8") == b"x\\udcff"


def test_a_name_with_a_newline_is_shown_escaped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "new\nline.py").write_text(CODE)
    db = tmp_path / "i.sqlite"
    assert _whence("index", "build", str(src), "--index", str(db), "--repo", "o/r").returncode == 0
    res = _whence("search", "--index", str(db), input=CODE)
    assert res.returncode == 0 and "o/r/new\\nline.py" in res.stdout, res.stdout
