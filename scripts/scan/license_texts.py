"""Writes ``scan/data/spdx-licenses.json.xz``, the license texts of ``whence scan --format notice``.

    python scripts/scan/license_texts.py [--version 6.12.0] [--out scan/data/spdx-licenses.json.xz]

Fetches the npm package ``spdx-license-list`` at the pinned version with npm's own client (``npm pack``,
which checks the registry's integrity hash) and keeps, of its ``spdx-full.json``, each license's id,
name, URL and text, with the package's name, version, integrity and the SPDX License List release it
carries (see :mod:`whence.scan.licensetexts`).  To take a newer release of the list, raise ``VERSION``
there, run this and commit the file; ``tests/test_notice.py`` checks the shipped file against the
package.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from whence.scan import licensetexts


def fetch(version: str, folder: Path) -> tuple[Path, str]:
    """``npm pack spdx-license-list@version`` into ``folder``: the tarball and its integrity hash."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch the package (install Node.js)")
    out = subprocess.run(
        [npm, "pack", f"{licensetexts.PACKAGE}@{version}", "--json", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"npm pack failed: {out.stderr.strip()[-500:]}")
    [info] = json.loads(out.stdout)
    return folder / info["filename"], str(info["integrity"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--version", default=licensetexts.VERSION, help="the package version")
    ap.add_argument("--out", type=Path, default=licensetexts.DATA, help="the data file to write")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tgz, integrity = fetch(args.version, Path(tmp))
        data = licensetexts.from_package(tgz, integrity)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(licensetexts.encode(data))
    src = data["source"]
    print(
        f"{args.out}: {len(data['licenses'])} licenses, SPDX License List {src['spdx_license_list']} "
        f"({src['package']}@{src['version']}, {src['integrity']})"
    )


if __name__ == "__main__":
    main()
