"""The scan engine: which lines of a set of files were copied from indexed code, and whether a policy
accepts that.  ``whence scan`` runs it; it imports nothing from the CLI or the HTTP service.

    files.py      which files to scan: walking (.gitignore, vendored, generated) and ``git diff`` lines
    policy.py     the policy: whence.toml or [tool.whence] in pyproject.toml
    engine.py     the scan: files -> copied regions with their origins (threads and processes)
    findings.py   judging regions against the policy: findings, attributions, the report
    sarif.py      the report as SARIF 2.1.0 (code scanning)
    notice.py     the report as a THIRD_PARTY_NOTICES text: copyright lines (copyrights.py) and the
                  license texts of the SPDX License List (licensetexts.py, data/spdx-licenses.json.xz)
    sbom.py       the report as an SBOM: CycloneDX 1.6 or SPDX 2.3 JSON (the `sbom` extra's libraries)
"""
