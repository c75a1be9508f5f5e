"""``whence_dev.corpus`` (the scripts' real-code corpus) finds the JDK's sources where they really are
(a JDK's ``lib/src.zip`` may be a dangling link, as Debian's openjdk-17 ships it, or not a zip at all)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from whence_dev import corpus


def test_missing_and_unreadable_jdk_archives_are_skipped_for_another_jdk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jvm = tmp_path / "jvm"
    for jdk in ("openjdk-17", "broken-21", "temurin-25", "temurin-25-alias"):
        (jvm / jdk / "lib").mkdir(parents=True)
    os.symlink(jvm / "openjdk-17-source" / "src.zip", jvm / "openjdk-17" / "lib" / "src.zip")  # dangling
    (jvm / "broken-21" / "lib" / "src.zip").write_bytes(b"PK\x03\x04 cut short")
    real = jvm / "temurin-25" / "lib" / "src.zip"
    with zipfile.ZipFile(real, "w") as z:
        z.writestr("java.base/java/lang/Object.java", "package java.lang;\npublic class Object {}\n")
    os.symlink(real, jvm / "temurin-25-alias" / "lib" / "src.zip")  # the same file twice: read once

    assert corpus.jdk_archives(jvm) == [real]
    err = capsys.readouterr().err
    assert "openjdk-17/lib/src.zip: it links to" in err and "which is missing" in err
    assert "broken-21/lib/src.zip: not a readable zip archive" in err
    (member,) = list(corpus._jdk_zip(real))
    assert member.repo == "openjdk/java.base" and member.relpath == "java.base/java/lang/Object.java"


def test_this_machines_jdk_sources_are_found_when_any_jdk_has_them() -> None:
    jvm = Path("/usr/lib/jvm")
    readable = [z for z in jvm.glob("*/lib/src.zip") if os.path.isfile(z) and zipfile.is_zipfile(z)]
    if not readable:
        pytest.skip("no JDK here ships a readable lib/src.zip")
    found = corpus.jdk_archives(jvm)
    assert found and {os.path.realpath(z) for z in found} == {os.path.realpath(z) for z in readable}
