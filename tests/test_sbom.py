"""``whence scan --format cyclonedx`` and ``--format spdx``: real scans of a repository with copied
code, each SBOM checked with its own format's library -- CycloneDX's strict JSON-schema validator, SPDX's
``validate_full_spdx_document`` after the library's parser has read the document back."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.model import Document, RelationshipType, SpdxNoAssertion, SpdxNone
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from whence.cli import main
from whence.scan import sbom

from .conftest import STDLIB
from .test_scan import _lines, git, mixed_index, repo  # noqa: F401  (fixtures)

WHEN = "2026-01-02T03:04:05Z"


def run(index: Path, repo_: Path, fmt: str, *extra: str) -> Result:
    return CliRunner().invoke(
        main, ["scan", str(repo_), "--index", str(index), "--format", fmt, "--sbom-timestamp", WHEN, *extra]
    )


def cyclonedx(index: Path, repo_: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    res = run(index, repo_, "cyclonedx", *extra)
    assert res.stdout.startswith("{"), res.output
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(res.stdout)
    assert error is None, error
    return res.exit_code, json.loads(res.stdout), res.stdout


def spdx(index: Path, repo_: Path, tmp_path: Path, *extra: str) -> tuple[int, Document, str]:
    res = run(index, repo_, "spdx", *extra)
    assert res.stdout.startswith("{"), res.output
    written = tmp_path / "scan.spdx.json"
    written.write_text(res.stdout)
    doc = parse_file(str(written))  # the library's own parser reads it back...
    assert validate_full_spdx_document(doc) == []  # ...and its validator accepts it
    return res.exit_code, doc, res.stdout


def _copy(repo_: Path, corpus: Path) -> None:
    (repo_ / "src" / "wrap.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    (repo_ / "src" / "bis.py").write_text("# helpers\n\n" + _lines(corpus, "bisect.py", 1, 60))


def _props(component: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


def test_cyclonedx_of_copied_code(repo: Path, built_index: Path, corpus: Path) -> None:  # noqa: F811
    _copy(repo, corpus)
    code, bom, text = cyclonedx(built_index, repo)
    assert code == 0  # an SBOM is no policy check...
    assert cyclonedx(built_index, repo, "--fail-on", "verbatim")[0] == 1  # ...unless asked to be one
    assert cyclonedx(built_index, repo)[2] == text  # the same scan, the same document
    assert bom["specVersion"] == "1.6" and bom["serialNumber"].startswith("urn:uuid:")
    assert bom["metadata"]["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert bom["metadata"]["component"]["name"] == "repo"
    assert bom["metadata"]["tools"]["components"][0]["name"] == "whence"
    [origin] = bom["components"]
    assert (origin["group"], origin["name"], origin["purl"]) == (
        "python",
        "cpython",
        "pkg:github/python/cpython",
    )
    assert origin["licenses"] == [{"license": {"id": "PSF-2.0"}}]
    assert origin["externalReferences"] == [{"type": "vcs", "url": "https://github.com/python/cpython"}]
    evidence = origin["evidence"]
    [identity] = evidence["identity"]
    assert identity["field"] == "purl" and identity["concludedValue"] == origin["purl"]
    assert [(m["technique"], m["confidence"]) for m in identity["methods"]] == [("source-code-analysis", 1)]
    where = {(o["location"], o["line"]) for o in evidence["occurrences"]}
    assert ("src/wrap.py", 1) in where and any(loc == "src/bis.py" and line >= 3 for loc, line in where)
    assert {"text": "Copyright (C) 1999-2001 Gregory P. Ward."} in evidence["copyright"]
    spans = _props(origin, "whence:span")
    assert any(s.startswith("src/wrap.py#L1-L") and "-> textwrap.py#L2" in s for s in spans), spans
    assert any(s.startswith("src/bis.py#L") and "-> bisect.py#L" in s for s in spans), spans
    assert _props(origin, "whence:verdict") == ["verbatim"]
    assert _props(origin, "whence:attribution-required") == ["true"]
    assert all(
        u.startswith("https://github.com/python/cpython/blob/") for u in _props(origin, "whence:origin-url")
    )
    assert sorted(bom["dependencies"], key=lambda d: d["ref"]) == [
        {"ref": origin["bom-ref"]},
        {"ref": "whence:scanned", "dependsOn": [origin["bom-ref"]]},
    ]


def test_spdx_of_copied_code(repo: Path, built_index: Path, corpus: Path, tmp_path: Path) -> None:  # noqa: F811
    _copy(repo, corpus)
    code, doc, text = spdx(built_index, repo, tmp_path)
    assert code == 0
    assert spdx(built_index, repo, tmp_path)[2] == text
    assert doc.creation_info.spdx_version == "SPDX-2.3"
    assert doc.creation_info.created.isoformat() == "2026-01-02T03:04:05"
    scanned, origin = doc.packages
    assert scanned.name == "repo"
    assert (origin.name, origin.download_location) == ("python/cpython", "https://github.com/python/cpython")
    assert str(origin.license_declared) == str(origin.license_concluded) == "PSF-2.0"
    assert "Gregory P. Ward" in str(origin.copyright_text)
    assert [r.locator for r in origin.external_references] == ["pkg:github/python/cpython"]
    files = {f.spdx_id: f for f in doc.files}
    assert sorted(f.name for f in files.values()) == ["./src/bis.py", "./src/wrap.py"]
    assert {(r.relationship_type, r.related_spdx_element_id) for r in doc.relationships} >= {
        (RelationshipType.DESCRIBES, scanned.spdx_id),
        *((RelationshipType.CONTAINS, i) for i in files),
    }
    assert doc.snippets
    for snip in doc.snippets:
        name = files[snip.file_spdx_id].name[2:]
        data = (repo / name).read_bytes()
        lo, hi = snip.line_range
        # The byte range is exactly the lines of the line range, line ends included.
        assert data[snip.byte_range[0] - 1 : snip.byte_range[1]] == b"".join(
            data.splitlines(keepends=True)[lo - 1 : hi]
        )
        assert str(snip.license_concluded) == "PSF-2.0"
        assert (
            snip.attribution_texts and "https://github.com/python/cpython/blob/" in snip.attribution_texts[0]
        )
        [rel] = [r for r in doc.relationships if r.spdx_element_id == snip.spdx_id]
        assert (rel.relationship_type, rel.related_spdx_element_id) == (
            RelationshipType.COPY_OF,
            origin.spdx_id,
        )
        assert rel.comment is not None and rel.comment.startswith(f"{name}#L{lo}-L{hi} -> ")
    wrap = next(s for s in doc.snippets if files[s.file_spdx_id].name == "./src/wrap.py")
    assert wrap.line_range[0] == 1 and "Copyright (C) 2002, 2003 Python Software Foundation." in str(
        wrap.copyright_text
    )


def test_sbom_of_copyleft_unlicensed_and_unlisted_origins(
    repo: Path,  # noqa: F811
    mixed_index: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from whence.index import ingest
    from whence.index.stores import open_store

    (repo / "src" / "b.py").write_text(_lines(STDLIB, "sched.py", 60, 130))
    (repo / "src" / "c.py").write_text(_lines(STDLIB, "graphlib.py", 90, 160))
    _, bom, _ = cyclonedx(mixed_index, repo)
    by_name = {c["name"]: c for c in bom["components"]}
    assert by_name["gpl-lib"]["licenses"] == [{"license": {"id": "GPL-3.0-only"}}]
    assert _props(by_name["gpl-lib"], "whence:license-category") == ["copyleft"]
    assert "licenses" not in by_name["nolicense"]  # no license: none claimed
    _, doc, _ = spdx(mixed_index, repo, tmp_path)
    pkgs = {p.name: p for p in doc.packages}
    assert str(pkgs["example/gpl-lib"].license_declared) == "GPL-3.0-only"
    assert pkgs["example/nolicense"].license_declared == SpdxNone()
    nolic = next(s for s in doc.snippets if s.comment and "example/nolicense" in s.comment)
    assert nolic.license_concluded == SpdxNoAssertion()

    # Licenses outside the SPDX License List: a ScanCode reference and a bare name.
    src = tmp_path / "lib"
    src.mkdir()
    (src / "wrap.py").write_text(_lines(STDLIB, "textwrap.py", 247, 300))
    index = tmp_path / "odd.sqlite"
    with open_store(index, create=True) as store:
        lic = [
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "LicenseRef-scancode-example-1.0",
            "Acme Terms",
        ]
        ingest.build(store, iter(ingest.sources([src], repo="example/lib", licenses=lic)), workers=1)
    (repo / "src" / "wrap.py").write_text(_lines(STDLIB, "textwrap.py", 247, 300))
    _, bom, _ = cyclonedx(index, repo)
    [comp] = [c for c in bom["components"] if c["name"] == "lib"]
    assert {json.dumps(x, sort_keys=True) for x in comp["licenses"]} == {
        json.dumps({"license": {"name": "Acme Terms"}}),
        json.dumps({"license": {"name": "GPL-2.0-or-later WITH Classpath-exception-2.0"}}),
        json.dumps({"license": {"name": "LicenseRef-scancode-example-1.0"}}),
    }
    _, doc, _ = spdx(index, repo, tmp_path)
    [pkg] = [p for p in doc.packages if p.name == "example/lib"]
    assert str(pkg.license_declared) == (
        "LicenseRef-whence-Acme-Terms AND GPL-2.0-or-later WITH Classpath-exception-2.0 AND "
        "LicenseRef-scancode-example-1.0"
    )
    refs = {e.license_id: e for e in doc.extracted_licensing_info}
    assert set(refs) == {"LicenseRef-scancode-example-1.0", "LicenseRef-whence-Acme-Terms"}
    assert refs["LicenseRef-whence-Acme-Terms"].license_name == "Acme Terms"
    assert refs["LicenseRef-scancode-example-1.0"].cross_references == [
        "https://scancode-licensedb.aboutcode.org/example-1.0.html"
    ]


def test_clean_scan_gives_valid_empty_sboms(repo: Path, built_index: Path, tmp_path: Path) -> None:  # noqa: F811
    code, bom, _ = cyclonedx(built_index, repo)
    assert code == 0 and bom.get("components", []) == []
    assert bom["metadata"]["component"]["name"] == "repo"
    code, doc, _ = spdx(built_index, repo, tmp_path)
    assert code == 0 and doc.snippets == [] and doc.files == [] and [p.name for p in doc.packages] == ["repo"]


def test_sbom_to_a_file_and_from_a_diff(repo: Path, built_index: Path, corpus: Path, tmp_path: Path) -> None:  # noqa: F811
    (repo / "src" / "wrap.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "copy")
    out = tmp_path / "bom.cdx.json"
    res = run(built_index, repo, "cyclonedx", "--diff", "HEAD~1", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "1 findings" in res.stderr  # the summary goes to stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.read_text()) is None
    bom = json.loads(out.read_text())
    assert _props(bom["metadata"]["component"], "whence:diff") == ["HEAD~1"]


def test_missing_library_is_one_line(
    repo: Path,  # noqa: F811
    built_index: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "spdx_tools.spdx.model.snippet", None)
    res = run(built_index, repo, "spdx")
    assert res.exit_code == 2
    [line] = res.stderr.splitlines()
    assert "--format spdx needs the 'sbom' extra" in line and "pip install 'whence[sbom]'" in line


def test_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sbom.timestamp("2026-01-02T03:04:05.678+01:00").isoformat() == "2026-01-02T02:04:05+00:00"
    assert sbom.timestamp("0").isoformat() == "1970-01-01T00:00:00+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert sbom.timestamp().isoformat() == "2023-11-14T22:13:20+00:00"
    assert sbom.timestamp("2026-01-02").isoformat() == "2026-01-02T00:00:00+00:00"
    with pytest.raises(ValueError):
        sbom.timestamp("yesterday")


def test_byte_ranges() -> None:
    data = b"one\r\ntwo\nthree"
    starts = sbom._line_starts(data)
    assert sbom._byte_range(starts, len(data), (1, 1)) == (1, 5)
    assert sbom._byte_range(starts, len(data), (2, 3)) == (6, 14)
    assert data[5:14] == b"two\nthree"


def test_revisions_near_duplicates_and_origins_off_github(
    repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from whence.index import ingest
    from whence.index.stores import open_store

    from . import mutations

    records = [
        {"repo": "acme/widgets", "path": "lib/heap.py", "revision": "v1.2.0", "licenses": ["MIT"],
         "content": (STDLIB / "heapq.py").read_text()},
        {"repo": "group/proj", "path": "x/wrap.py", "revision": "abc123", "licenses": ["Apache-2.0"],
         "url": "https://gitlab.example.org/group/proj/-/blob/abc123/x/wrap.py",
         "content": (STDLIB / "textwrap.py").read_text()},
    ]  # fmt: skip
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    index = tmp_path / "rev.sqlite"
    with open_store(index, create=True) as store:
        ingest.build(store, iter(ingest.sources([jsonl])), workers=1)
    (repo / "src" / "merge.py").write_text(mutations.rename(_lines(STDLIB, "heapq.py", 258, 300)))
    (repo / "src" / "wrap.py").write_text(_lines(STDLIB, "textwrap.py", 247, 300))

    _, bom, _ = cyclonedx(index, repo)
    comps = {c["name"]: c for c in bom["components"]}
    widgets, proj = comps["widgets"], comps["proj"]
    assert (widgets["version"], widgets["purl"]) == ("v1.2.0", "pkg:github/acme/widgets@v1.2.0")
    assert widgets["bom-ref"] == "whence:origin:acme/widgets@v1.2.0"
    [identity] = widgets["evidence"]["identity"]
    assert [(m["confidence"], m["value"].split(":")[0]) for m in identity["methods"]] == [
        (0.8, "whence near-duplicate")
    ]
    assert _props(widgets, "whence:verdict") == ["near-duplicate"]
    # Not on GitHub: no purl; identified by name, linked by its own address.
    assert "purl" not in proj and proj["evidence"]["identity"][0]["field"] == "name"
    assert proj["externalReferences"] == [{"type": "vcs", "url": "https://gitlab.example.org/group/proj"}]
    assert proj["licenses"] == [{"license": {"id": "Apache-2.0"}}]

    _, doc, _ = spdx(index, repo, tmp_path)
    pkgs = {p.name: p for p in doc.packages}
    assert pkgs["acme/widgets"].version == "v1.2.0"
    assert [r.locator for r in pkgs["acme/widgets"].external_references] == ["pkg:github/acme/widgets@v1.2.0"]
    assert pkgs["group/proj"].download_location == "https://gitlab.example.org/group/proj"
    assert pkgs["group/proj"].external_references == []
    kinds = {
        r.related_spdx_element_id: r.relationship_type
        for r in doc.relationships
        if r.spdx_element_id.startswith("SPDXRef-Snippet-")
    }
    assert kinds == {
        pkgs["acme/widgets"].spdx_id: RelationshipType.VARIANT_OF,
        pkgs["group/proj"].spdx_id: RelationshipType.COPY_OF,
    }


def test_a_document_the_validator_rejects_is_not_written(
    repo: Path,  # noqa: F811
    built_index: Path,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _copy(repo, corpus)
    # What a bug in whence might make: a byte range starting at 0 (SPDX counts from 1).
    monkeypatch.setattr(sbom, "_byte_range", lambda *args: (0, 10))
    res = run(built_index, repo, "spdx")
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.startswith("error: writing the spdx SBOM: the SPDX document does not validate: ")
    assert "byte_range" in res.stderr
