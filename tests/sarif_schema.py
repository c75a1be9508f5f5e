"""The official SARIF 2.1.0 JSON schema, for validating ``whence scan --format sarif`` in the tests.

No package on PyPI ships the schema file.  Microsoft's SARIF team publishes it on npm inside
``@microsoft/jest-sarif`` (``lib/schemas/sarif-2.1.0-rtm.5.json``: the 2.1.0 schema as standardised by
OASIS, rtm.5 being the release that became the standard).  The tests fetch that package once with npm's
own client (which checks the registry's integrity hash) and cache the schema under
``$WHENCE_TEST_CACHE`` (default ``~/.cache/whence-tests``).  A machine without npm or registry access
cannot validate SARIF, and the test then fails with the reason rather than passing unchecked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@microsoft/jest-sarif@1.0.0-beta.0"
MEMBER = "package/lib/schemas/sarif-2.1.0-rtm.5.json"


def cache_dir() -> Path:
    return Path(os.environ.get("WHENCE_TEST_CACHE") or Path.home() / ".cache" / "whence-tests")


def load() -> dict[str, Any]:
    """The schema (fetched from the npm registry on first use).

    Raises:
        RuntimeError: npm is missing or the package cannot be fetched.
    """
    path = cache_dir() / "sarif-2.1.0-rtm.5.json"
    if not path.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"npm is needed once to fetch the SARIF schema ({PACKAGE}); install Node.js")
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [npm, "pack", PACKAGE, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(f"npm pack {PACKAGE} failed: {out.stderr.strip()[-500:]}")
            tgz = next(Path(tmp).glob("*.tgz"))
            with tarfile.open(tgz) as tar:
                member = tar.extractfile(MEMBER)
                if member is None:
                    raise RuntimeError(f"{tgz.name} has no {MEMBER}")
                data = member.read()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = path.with_suffix(".tmp")
        tmp_path.write_bytes(data)
        tmp_path.replace(path)
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if "2.1.0" not in schema.get("title", ""):
        raise RuntimeError(f"{path} is not the SARIF 2.1.0 schema (title {schema.get('title')!r})")
    return schema
