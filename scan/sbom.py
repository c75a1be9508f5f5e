"""``--format cyclonedx`` and ``--format spdx``: the copied code of a scan as a software bill of materials.

Each origin repository (at the revision the index holds) becomes an element of the SBOM -- a CycloneDX
component, an SPDX package -- with its licenses, its copyright lines (read from the copied files'
headers in the index, :mod:`.copyrights`) and where each copied region is: the scanned file and lines
here, the origin path and lines there.  The documents are built and written with the formats' own
maintained libraries (``cyclonedx-python-lib``, ``spdx-tools``; the ``sbom`` extra) and checked with
their validators before they are returned, so whence never writes an SBOM its format rejects.

Output is deterministic for a given scan and timestamp: elements are sorted, identifiers are derived
from content (the CycloneDX serial number, the SPDX namespace), not drawn at random.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from whence import __version__

from .findings import Finding, ScanReport, display
from .notice import homepage

EXTRA = "sbom"
#: A finding's verdict -> the confidence its CycloneDX evidence method states.  Fixed values, not a
#: measured probability: a verbatim region is the same token sequence as the origin (certain); a
#: near-duplicate is the same code with identifiers or literals changed (likely, not certain).
CONFIDENCE: dict[str, Decimal] = {"verbatim": Decimal("1"), "near-duplicate": Decimal("0.8")}
#: How datasets write "no license" (as :mod:`whence.index.licenses` reads them).
_NO_LICENSE = frozenset({"no_license", "noassertion", "none", ""})
_NAMESPACE = uuid.UUID("8a3f0c52-3d0e-5f55-9b7e-1c7d6f0e2a41")  # whence's namespace for uuid5 ids
_GITHUB = re.compile(r"^https://github\.com/([^/\s]+)/([^/\s]+)$")
_REF_CHARS = re.compile(r"[^A-Za-z0-9.\-]+")
SCANCODE_DB = "https://scancode-licensedb.aboutcode.org/{key}.html"


class MissingLibrary(RuntimeError):
    """The SBOM libraries are not installed."""


_MODULES = {
    "cyclonedx": ("cyclonedx.output.json", "cyclonedx.validation.json", "jsonschema", "packageurl"),
    "spdx": ("spdx_tools.spdx.model.snippet", "spdx_tools.spdx.writer.json.json_writer", "packageurl"),
}


def need(fmt: str) -> None:
    """Raise :class:`MissingLibrary` (one line, naming the extra) unless the libraries of ``fmt`` import."""
    import importlib

    try:
        for module in _MODULES[fmt]:
            importlib.import_module(module)
    except ImportError as exc:
        raise MissingLibrary(
            f"--format {fmt} needs the '{EXTRA}' extra ({exc.name} is missing): pip install 'whence[{EXTRA}]'"
        ) from None


def timestamp(value: str | None = None) -> datetime:
    """The SBOM's creation time: ``value`` (ISO 8601, or seconds since the epoch), else the
    ``SOURCE_DATE_EPOCH`` environment variable (reproducible builds), else now; UTC, whole seconds."""
    raw = value if value is not None else os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        when = datetime.now(timezone.utc)
    elif raw.strip().lstrip("-").isdigit():
        when = datetime.fromtimestamp(int(raw.strip()), timezone.utc)
    else:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).replace(microsecond=0)


@dataclass
class Origin:
    """An origin repository at a revision, and the findings copied from it."""

    repo: str
    revision: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.repo}@{self.revision}" if self.revision else self.repo

    @property
    def licenses(self) -> list[str]:
        return sorted({x for f in self.findings for x in f.origin.licenses})

    @property
    def home(self) -> str:
        return next((h for h in map(homepage, self.findings) if h), "")

    @property
    def github(self) -> tuple[str, str] | None:
        m = _GITHUB.match(self.home)
        return (m.group(1), m.group(2)) if m else None

    def copyrights(self, copyrights: Mapping[int, Sequence[str]]) -> list[str]:
        seen: dict[str, str] = {}
        for f in self.findings:
            for c in copyrights.get(f.doc_id, ()):
                seen.setdefault(" ".join(c.split()).lower(), c)
        return list(seen.values())


def origins(report: ScanReport) -> list[Origin]:
    """The report's findings grouped by origin repository and revision, sorted."""
    by: dict[tuple[str, str], Origin] = {}
    for f in report.findings:
        key = (f.origin.repo or "(unknown repository)", f.origin.revision)
        by.setdefault(key, Origin(*key)).findings.append(f)
    return [by[k] for k in sorted(by)]


def span(f: Finding) -> str:
    """``scanned/file.py#L3-L40 -> origin/path.py#L10-L47``: where a copied region is, here and there."""
    lo, hi = f.lines
    slo, shi = f.source_lines
    return f"{display(f.path)}#L{lo}-L{hi} -> {f.origin.path}#L{slo}-L{shi}"


def _purl(o: Origin) -> str:
    gh = o.github
    if gh is None:
        return ""
    from packageurl import PackageURL

    return str(PackageURL(type="github", namespace=gh[0], name=gh[1], version=o.revision or None))


def _project(report: ScanReport) -> str:
    return report.root.name or "scanned"


def _digest(report: ScanReport, fmt: str) -> uuid.UUID:
    """A content-derived id: the same scan gives the same serial number / namespace."""
    data = json.dumps(
        [fmt, display(str(report.root)), [f.as_dict() for f in report.findings]], sort_keys=True
    ).encode()
    return uuid.uuid5(_NAMESPACE, hashlib.sha256(data).hexdigest())


# --------------------------------------------------------------------------------------------- CycloneDX


def to_cyclonedx(
    report: ScanReport, copyrights: Mapping[int, Sequence[str]] | None = None, when: datetime | None = None
) -> str:
    """The report as a CycloneDX 1.6 JSON document (validated with the library's strict validator)."""
    need("cyclonedx")
    from cyclonedx.model import Copyright, ExternalReference, ExternalReferenceType, Property, XsUri
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.component_evidence import (
        AnalysisTechnique,
        ComponentEvidence,
        Identity,
        IdentityField,
        Method,
        Occurrence,
    )
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    copyrights = copyrights or {}
    root = Component(
        type=ComponentType.APPLICATION,
        name=_project(report),
        bom_ref="whence:scanned",
        description="The scanned project",
        properties=[
            Property(name="whence:status", value=report.status),
            Property(name="whence:files-scanned", value=str(report.files)),
            *([Property(name="whence:diff", value=report.diff)] if report.diff else []),
        ],
    )
    tool = Component(
        type=ComponentType.APPLICATION, name="whence", version=__version__, bom_ref="whence:tool"
    )
    bom = Bom(
        metadata=BomMetaData(
            component=root, tools=ToolRepository(components=[tool]), timestamp=when or timestamp()
        ),
        serial_number=_digest(report, "cyclonedx"),
    )
    comps = []
    for o in origins(report):
        owner, _, name = o.repo.rpartition("/")
        purl_text = _purl(o)
        verdicts = sorted({f.verdict for f in o.findings})
        identity = Identity(
            field=IdentityField.PURL if purl_text else IdentityField.NAME,
            concluded_value=purl_text or o.repo,
            confidence=max(CONFIDENCE.get(v, Decimal("0.5")) for v in verdicts),
            methods=[
                Method(
                    technique=AnalysisTechnique.SOURCE_CODE_ANALYSIS,
                    confidence=CONFIDENCE.get(v, Decimal("0.5")),
                    value=f"whence {v}: token fingerprints of the scanned lines match the origin's",
                )
                for v in verdicts
            ],
        )
        ref = f"whence:origin:{o.key}"
        occurrences = [
            Occurrence(
                bom_ref=f"{ref}:occurrence-{i:05d}",  # its place in the (sorted) findings: stable
                location=display(f.path),
                line=f.lines[0],
                additional_context=(
                    f"lines {f.lines[0]}-{f.lines[1]}: {f.verdict} ({f.tokens} tokens) of "
                    f"{f.origin.path} lines {f.source_lines[0]}-{f.source_lines[1]}"
                ),
            )
            for i, f in enumerate(o.findings, 1)
        ]
        props = [Property(name="whence:span", value=f"{span(f)} ({f.verdict})") for f in o.findings]
        props += [Property(name="whence:verdict", value=v) for v in verdicts]
        props += [Property(name="whence:origin-url", value=f.url) for f in o.findings if f.url]
        props.append(Property(name="whence:license-category", value=o.findings[0].license_category))
        props.append(
            Property(
                name="whence:attribution-required", value=str(o.findings[0].attribution_required).lower()
            )
        )
        props += [Property(name="whence:attributed", value=f.attributed) for f in o.findings if f.attributed]
        props += [Property(name="whence:failing", value=r) for f in o.findings for r in f.failing]
        refs = [ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(o.home))] if o.home else []
        comps.append(
            Component(
                type=ComponentType.LIBRARY,
                bom_ref=ref,
                group=owner or None,
                name=name or o.repo,
                version=o.revision or None,
                purl=_parse_purl(purl_text),
                licenses=_cdx_licenses(o.licenses),
                copyright="\n".join(o.copyrights(copyrights)) or None,
                external_references=refs,
                evidence=ComponentEvidence(
                    identity=[identity],
                    occurrences=occurrences,
                    copyright=[Copyright(text=c) for c in o.copyrights(copyrights)],
                ),
                properties=props,
            )
        )
    for c in comps:
        bom.components.add(c)
    bom.register_dependency(root, comps)
    text: str = JsonV1Dot6(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:  # a bug in whence: say so rather than write a document the format rejects
        raise RuntimeError(f"the CycloneDX document does not validate: {error}")
    return text + "\n"


def _parse_purl(text: str) -> Any:
    if not text:
        return None
    from packageurl import PackageURL

    return PackageURL.from_string(text)


def _cdx_licenses(licenses: Sequence[str]) -> list[Any]:
    """CycloneDX licenses: one SPDX id, or one SPDX expression (all the origin's licenses, ANDed), or
    -- when one of them is not SPDX -- each as an id or a name (the schema allows no mix of the two)."""
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression

    given = [x for x in licenses if x.strip().lower() not in _NO_LICENSE]
    if not given:
        return []
    parsed = [_spdx_expression(x) for x in given]
    if all(p is not None for p in parsed):
        if len(given) == 1 and _is_list_id(given[0]):
            return [DisjunctiveLicense(id=_is_list_id(given[0]))]
        return [LicenseExpression(" AND ".join(_group(str(p)) for p in parsed))]
    return [
        DisjunctiveLicense(id=_is_list_id(x)) if _is_list_id(x) else DisjunctiveLicense(name=x) for x in given
    ]


def _group(expr: str) -> str:
    return f"({expr})" if " " in expr else expr


def _spdx_expression(text: str) -> Any:
    """``text`` as a parsed SPDX license expression of known ids and ``LicenseRef-`` references, or None."""
    licensing = _licensing()
    info = licensing.validate(text)
    if any(not s.startswith("LicenseRef-") for s in info.invalid_symbols):
        return None
    if any(not e.startswith("Unknown license key") for e in info.errors):
        return None  # not an expression (unbalanced parentheses, a stray operator...)
    return licensing.parse(text)


_LICENSING: list[Any] = []


def _licensing() -> Any:
    if not _LICENSING:
        from license_expression import get_spdx_licensing

        _LICENSING.append(get_spdx_licensing())
    return _LICENSING[0]


def _is_list_id(text: str) -> str:
    """The SPDX License List id ``text`` names (case as the list spells it), or ``""``."""
    licensing = _licensing()
    key = text.strip()
    if not key or " " in key or key.startswith("LicenseRef-"):
        return ""
    sym = licensing.known_symbols.get(key) or licensing.known_symbols_lowercase.get(key.lower())
    if sym is None or getattr(sym, "is_exception", False):
        return ""
    return str(sym.key)


# -------------------------------------------------------------------------------------------------- SPDX


def to_spdx(
    report: ScanReport, copyrights: Mapping[int, Sequence[str]] | None = None, when: datetime | None = None
) -> str:
    """The report as an SPDX 2.3 JSON document (validated with ``validate_full_spdx_document``)."""
    need("spdx")
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

    doc = spdx_document(report, copyrights or {}, when or timestamp())
    out = io.StringIO()
    write_document_to_stream(doc, out, validate=False)
    return out.getvalue().rstrip("\n") + "\n"


def spdx_document(report: ScanReport, copyrights: Mapping[int, Sequence[str]], when: datetime) -> Any:
    """The SPDX 2.3 model of ``report``; raises RuntimeError if the library's validator rejects it."""
    from spdx_tools.spdx.model.actor import Actor, ActorType
    from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
    from spdx_tools.spdx.model.document import CreationInfo, Document
    from spdx_tools.spdx.model.file import File
    from spdx_tools.spdx.model.package import ExternalPackageRef, ExternalPackageRefCategory, Package
    from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
    from spdx_tools.spdx.model.snippet import Snippet
    from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
    from spdx_tools.spdx.model.spdx_none import SpdxNone
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    project = _project(report)
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=f"whence scan of {project}",
        document_namespace=f"https://whence.invalid/spdx/{_ref(project)}-{_digest(report, 'spdx')}",
        creators=[Actor(ActorType.TOOL, f"whence-{__version__}")],
        created=when,
        creator_comment=(
            "Code in the scanned project that also appears in indexed repositories, found by `whence scan`: "
            "each copied region is a snippet of a scanned file, related to the origin repository's package."
        ),
    )
    licenses = _SpdxLicenses()
    root_pkg = Package(
        spdx_id="SPDXRef-Package-scanned",
        name=project,
        download_location=SpdxNoAssertion(),
        files_analyzed=True,
        license_concluded=SpdxNoAssertion(),
        license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        comment=f"The scanned project (scan status: {report.status}).",
    )
    rels = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, root_pkg.spdx_id)]
    packages = [root_pkg]
    origin_ids: dict[tuple[str, str], str] = {}
    for n, o in enumerate(origins(report), 1):
        spdx_id = f"SPDXRef-Package-origin-{n}"
        origin_ids[(o.repo, o.revision)] = spdx_id
        expr = licenses.expression(o.licenses)
        held = o.copyrights(copyrights)
        purl = _purl(o)
        packages.append(
            Package(
                spdx_id=spdx_id,
                name=o.repo,
                version=o.revision or None,
                download_location=o.home or SpdxNoAssertion(),
                homepage=o.home or None,
                files_analyzed=False,
                license_concluded=expr,
                license_declared=expr,
                copyright_text="\n".join(held) if held else SpdxNoAssertion(),
                external_references=(
                    [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)]
                    if purl
                    else []
                ),
                source_info=(
                    "the origin of copied code, found by whence in its index"
                    + (f" at revision {o.revision}" if o.revision else "")
                ),
                comment=f"license category: {o.findings[0].license_category}",
                attribution_texts=_attribution(o, held),
            )
        )
    files: list[Any] = []
    snippets: list[Any] = []
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_path[f.path].append(f)
    for n, path in enumerate(sorted(by_path), 1):
        data = (report.root / os.fsdecode(os.fsencode(path))).read_bytes()
        file_id = f"SPDXRef-File-{n}"
        files.append(
            File(
                name="./" + display(path),
                spdx_id=file_id,
                checksums=[
                    Checksum(ChecksumAlgorithm.SHA1, hashlib.sha1(data).hexdigest()),
                    Checksum(ChecksumAlgorithm.SHA256, hashlib.sha256(data).hexdigest()),
                ],
                license_concluded=SpdxNoAssertion(),
                copyright_text=SpdxNoAssertion(),
            )
        )
        rels.append(Relationship(root_pkg.spdx_id, RelationshipType.CONTAINS, file_id))
        starts = _line_starts(data)
        for k, f in enumerate(by_path[path], 1):
            snippet_id = f"SPDXRef-Snippet-{n}-{k}"
            o_key = (f.origin.repo or "(unknown repository)", f.origin.revision)
            expr = licenses.expression(list(f.origin.licenses))
            held = [c for c in copyrights.get(f.doc_id, ())]
            snippets.append(
                Snippet(
                    spdx_id=snippet_id,
                    file_spdx_id=file_id,
                    byte_range=_byte_range(starts, len(data), f.lines),
                    line_range=f.lines,
                    license_concluded=SpdxNoAssertion() if isinstance(expr, SpdxNone) else expr,
                    copyright_text="\n".join(held) if held else SpdxNoAssertion(),
                    name=f"{display(path)} lines {f.lines[0]}-{f.lines[1]}",
                    comment=(
                        f"{f.verdict} ({f.tokens} tokens) of {f.origin.repo} {f.origin.path} lines "
                        f"{f.source_lines[0]}-{f.source_lines[1]}"
                        + (f"; attributed: {f.attributed}" if f.attributed else "")
                        + (f"; policy rules it fails: {', '.join(f.failing)}" if f.failing else "")
                    ),
                    attribution_texts=[_snippet_attribution(f, held)] if f.attribution_required else [],
                )
            )
            kind = RelationshipType.COPY_OF if f.verdict == "verbatim" else RelationshipType.VARIANT_OF
            rels.append(
                Relationship(
                    snippet_id,
                    kind,
                    origin_ids[o_key],
                    comment=f"{span(f)} ({f.verdict})" + (f" {f.url}" if f.url else ""),
                )
            )
    doc = Document(
        info,
        packages=packages,
        files=files,
        snippets=snippets,
        relationships=rels,
        extracted_licensing_info=licenses.extracted(),
    )
    problems = validate_full_spdx_document(doc)
    if problems:  # a bug in whence: say so rather than write a document the format rejects
        raise RuntimeError(
            "the SPDX document does not validate: " + "; ".join(p.validation_message for p in problems[:5])
        )
    return doc


def _attribution(o: Origin, held: list[str]) -> list[str]:
    if not o.findings[0].attribution_required:
        return []
    lines = [f"Code from {o.repo}" + (f" ({o.home})" if o.home else "")]
    lines += held
    lines.append("License: " + (" AND ".join(o.licenses) or "no license found"))
    return ["\n".join(lines)]


def _snippet_attribution(f: Finding, held: list[str]) -> str:
    where = f.url or f"{f.origin.repo} {f.origin.path}"
    lic = " AND ".join(f.origin.licenses) or "no license found"
    return "\n".join([f"Copied from {where}", *held, f"License: {lic}"])


def _line_starts(data: bytes) -> list[int]:
    starts = [0]
    starts += [m.end() for m in re.finditer(rb"\r\n|\n|\r", data)]
    return starts


def _byte_range(starts: list[int], size: int, lines: tuple[int, int]) -> tuple[int, int]:
    """The 1-based, inclusive byte range of lines ``lines`` (1-based, inclusive), their line ends
    included."""
    lo, hi = lines
    first = starts[min(lo, len(starts)) - 1]
    end = starts[hi] if hi < len(starts) else size
    return first + 1, max(end, first + 1)


def _ref(text: str) -> str:
    return _REF_CHARS.sub("-", text).strip("-") or "x"


class _SpdxLicenses:
    """SPDX license expressions of an origin's licenses; names that are not SPDX become
    ``LicenseRef-`` references with an extracted-licensing entry."""

    def __init__(self) -> None:
        self._refs: dict[str, tuple[str, str]] = {}  # LicenseRef id -> (what the index calls it, why)

    def expression(self, licenses: Sequence[str]) -> Any:
        from spdx_tools.spdx.model.spdx_none import SpdxNone

        parts: list[str] = []
        for x in sorted(set(licenses)):
            if x.strip().lower() in _NO_LICENSE:
                continue
            parsed = _spdx_expression(x)
            if parsed is None:
                ref = "LicenseRef-whence-" + _ref(x)
                self._refs.setdefault(ref, (x, "named by the index, not an SPDX license expression"))
                parts.append(ref)
                continue
            for sym in _licensing().license_symbols(parsed):
                key = str(sym.key)
                if key.startswith("LicenseRef-"):
                    self._refs.setdefault(key, (key, "a license reference the index names"))
            parts.append(_group(str(parsed)))
        if not parts:
            return SpdxNone()
        return _licensing().parse(" AND ".join(parts))

    def extracted(self) -> list[Any]:
        from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo

        out = []
        for ref, (named, why) in sorted(self._refs.items()):
            key = ref.lower()
            cross = []
            if key.startswith("licenseref-scancode-"):
                cross.append(SCANCODE_DB.format(key=key[len("licenseref-scancode-") :]))
            out.append(
                ExtractedLicensingInfo(
                    license_id=ref,
                    extracted_text=f"The license the origin's dataset names as {named!r}; whence does not "
                    "hold its text.",
                    license_name=named,
                    cross_references=cross,
                    comment=why,
                )
            )
        return out
