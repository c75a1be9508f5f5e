"""License classification from ScanCode's database."""

from __future__ import annotations

import pytest

from whence.index.licenses import classify, expression_category


@pytest.mark.parametrize(
    ("licenses", "category", "attribution"),
    [
        (["MIT"], "permissive", True),
        (["Apache-2.0"], "permissive", True),
        (["BSD-3-Clause"], "permissive", True),
        (["0BSD"], "permissive", False),
        (["MIT-0"], "permissive", False),
        (["CC0-1.0"], "public-domain", False),
        (["Unlicense"], "public-domain", False),
        (["LGPL-2.1-only"], "weak-copyleft", True),
        (["MPL-2.0"], "weak-copyleft", True),
        (["GPL-3.0-or-later"], "copyleft", True),
        (["MIT", "GPL-2.0-only"], "copyleft", True),  # all of a file's licenses apply
        ([], "unknown", True),
        (["no_license"], "unknown", True),
        (["Totally-Made-Up-1.0"], "unknown", True),
    ],
)
def test_classify(licenses: list[str], category: str, attribution: bool) -> None:
    info = classify(licenses)
    assert (info.category, info.attribution_required) == (category, attribution)


def test_expressions() -> None:
    assert expression_category("MIT OR GPL-3.0-only") == "permissive"  # the user may choose
    assert expression_category("MIT AND GPL-3.0-only") == "copyleft"
    assert expression_category("(Apache-2.0 OR MIT) AND LGPL-2.1-or-later") == "weak-copyleft"
    assert expression_category("GPL-2.0-only WITH Classpath-exception-2.0") == "copyleft"
    assert expression_category("") == "unknown"
