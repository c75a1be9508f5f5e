"""``whence scan --format notice``: license texts from the shipped SPDX data, copyright lines from the
origins' headers, homepages, and the exit code of writing a notice.  Also the pieces: the copyright
reader, the SPDX expression splitter, and the shipped data file (checked against the npm package it
comes from)."""

from __future__ import annotations

import json
import lzma
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from whence.cli import main
from whence.scan import licensetexts
from whence.scan.copyrights import header_copyrights

from .conftest import STDLIB
from .test_scan import _lines, mixed_index, repo  # noqa: F401  (fixtures)


def notice(index: Path, repo_: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["scan", str(repo_), "--index", str(index), "--format", "notice", *extra])
    return res.exit_code, res.stdout


def test_notice_carries_copyrights_homepage_and_license_text(
    repo: Path,  # noqa: F811
    built_index: Path,
    corpus: Path,
) -> None:
    (repo / "src" / "wrap.py").write_text(_lines(corpus, "textwrap.py", 247, 300))
    (repo / "src" / "bis.py").write_text(_lines(corpus, "bisect.py", 1, 60))
    code, text = notice(built_index, repo)
    assert code == 0, text  # writing a notice is no policy check
    assert "Homepage: https://github.com/python/cpython\n" in text
    # textwrap.py's header names its authors; bisect.py's names none.
    block = text.split("Copyright:\n", 1)[1].split("Used in:", 1)[0]
    assert block.splitlines() == [
        "  Copyright (C) 1999-2001 Gregory P. Ward.",
        "  Copyright (C) 2002, 2003 Python Software Foundation.",
    ]
    # The license's full text, once, from the SPDX data, with where it comes from.
    psf = licensetexts.load().get("PSF-2.0")
    assert psf is not None and psf.text.strip() in text
    assert text.count("PSF-2.0: Python Software Foundation License") == 1
    assert "spdx-license-list@" in text and "SPDX License List 3." in text
    # --fail-on makes it a policy check again.
    code, _ = notice(built_index, repo, "--fail-on", "verbatim")
    assert code == 1
    # Kept in the repository, the notice credits the origin.
    (repo / "THIRD_PARTY_NOTICES").write_text(text)
    res = CliRunner().invoke(main, ["scan", str(repo), "--index", str(built_index)])
    assert res.exit_code == 0, res.output


def test_notice_of_copyleft_and_unlicensed_origins(repo: Path, mixed_index: Path) -> None:  # noqa: F811
    (repo / "src" / "b.py").write_text(_lines(STDLIB, "sched.py", 60, 130))
    (repo / "src" / "c.py").write_text(_lines(STDLIB, "graphlib.py", 90, 160))
    code, text = notice(mixed_index, repo)
    assert code == 0, text
    gpl = licensetexts.load().get("GPL-3.0-only")
    assert gpl is not None and gpl.text.strip() in text
    assert "License: GPL-3.0-only (copyleft)" in text and "License: no license found (unknown)" in text
    # Neither file states a copyright in its header: the notice says so rather than invent one.
    assert text.count("Copyright: none stated in the headers of the copied files") == 2


def test_notice_names_texts_it_does_not_ship(repo: Path, tmp_path: Path) -> None:  # noqa: F811
    from whence.index import ingest
    from whence.index.stores import open_store

    src = tmp_path / "lib"
    src.mkdir()
    body = _lines(STDLIB, "textwrap.py", 247, 300)
    (src / "wrap.py").write_text("// Copyright (c) 2021 Example Corp.\n" + body)
    index = tmp_path / "index.sqlite"
    with open_store(index, create=True) as store:
        lic = ["GPL-2.0-or-later WITH Classpath-exception-2.0", "LicenseRef-scancode-example-1.0"]
        ingest.build(store, iter(ingest.sources([src], repo="example/lib", licenses=lic)), workers=1)
    (repo / "src" / "wrap.py").write_text(body)
    code, text = notice(index, repo)
    assert code == 0, text
    assert "  Copyright (c) 2021 Example Corp." in text
    assert "Classpath-exception-2.0: not in the SPDX License List data whence ships" in text
    assert "https://scancode-licensedb.aboutcode.org/example-1.0.html" in text
    gpl = licensetexts.load().get("GPL-2.0-or-later")
    assert gpl is not None and gpl.text.strip() in text


PSF = "Copyright (C) 2002 Python Software Foundation."
GO = "Copyright 2009 The Go Authors. All rights reserved."
REUSE = "SPDX-FileCopyrightText: 2023 Jane Doe <jane@example.org>"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"# {PSF}\n", [PSF]),
        (f"// {GO}\n", [GO]),
        ("/*\n * Copyright (c) Microsoft Corporation.\n */\n", ["Copyright (c) Microsoft Corporation."]),
        ("/* Copyright © 2020 Jane Doe */\n", ["Copyright © 2020 Jane Doe"]),
        ("-- (c) 1999 Some One\n", ["(c) 1999 Some One"]),
        ("<!-- © 2018 A. Writer -->\n", ["© 2018 A. Writer"]),
        (f"# {REUSE}\n", [REUSE]),
        ('"""Docstring.\n\nCopyright 2001  Some   Body\n"""\n', ["Copyright 2001 Some Body"]),
        # Mentions of the word are not statements; duplicates are dropped.
        ("copyright = 'Copyright (c) 2004 X'\n# This copyright notice must stay.\n", []),
        ("# Copyright (c) 2004 X\n# copyright (C) 2004 x\n", ["Copyright (c) 2004 X"]),
    ],
)
def test_header_copyrights(header: str, expected: list[str]) -> None:
    assert header_copyrights(header) == expected


def test_copyrights_only_in_the_header() -> None:
    text = "x = 1\n" * 80 + "# Copyright (c) 2010 Late Comer\n"
    assert header_copyrights(text) == []
    assert header_copyrights("# Copyright (c) 2010 Early\n" + text) == ["Copyright (c) 2010 Early"]


def test_license_ids() -> None:
    assert licensetexts.license_ids("(MIT OR Apache-2.0) AND BSD-3-Clause") == (
        ["MIT", "Apache-2.0", "BSD-3-Clause"],
        [],
    )
    assert licensetexts.license_ids("GPL-2.0-only WITH Classpath-exception-2.0") == (
        ["GPL-2.0-only"],
        ["Classpath-exception-2.0"],
    )
    texts = licensetexts.load()
    mit = texts.get("mit")
    assert mit is not None and mit.id == "MIT" and "Permission is hereby granted" in mit.text


def test_shipped_license_texts_are_the_package() -> None:
    """The data file is what ``scripts/scan/license_texts.py`` makes of the pinned npm package: no
    text in it was typed or edited by hand."""
    shipped = json.loads(lzma.decompress(licensetexts.DATA.read_bytes()))
    src = shipped["source"]
    assert (src["package"], src["version"]) == (licensetexts.PACKAGE, licensetexts.VERSION)
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to check the license texts against their package"
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [npm, "pack", f"{licensetexts.PACKAGE}@{licensetexts.VERSION}", "--json", "--pack-destination",
             tmp],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )  # fmt: skip
        [info] = json.loads(out.stdout)
        rebuilt = licensetexts.from_package(Path(tmp) / info["filename"], info["integrity"])
    assert rebuilt == shipped
    assert len(shipped["licenses"]) > 600


def test_copyrights_of_documents_read_in_batches(built_index: Path) -> None:
    from whence.index.stores import open_store
    from whence.scan.copyrights import of_documents

    with open_store(built_index, readonly=True) as store:
        ids = range(1, store.count_documents() + 50)  # ids past the last are left out
        whole = of_documents(store, ids)
        assert of_documents(store, ids, batch=3) == whole
    assert len(whole) > 10
    assert ["Copyright (C) 1999-2001 Gregory P. Ward.", PSF.replace("2002", "2002, 2003")] in whole.values()
