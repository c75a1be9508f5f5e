"""Request and response models of the HTTP API (they make the OpenAPI schema at ``/docs``).

Response models mirror the search-result JSON contract (``whence search --format json``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchRequest(BaseModel):
    code: str = Field(
        ..., min_length=1, max_length=1_048_576, description="The snippet to search for (UTF-8 text)."
    )
    top: int | None = Field(
        None, ge=1, le=100, description="Most matches to return (default: the server's, 5)."
    )
    min_tokens: int | None = Field(
        None, ge=1, le=100_000, description="Smallest span that attributes (default 40)."
    )
    with_text: bool = Field(
        default=False, description="Also return each match's matched source lines (for display)."
    )
    language: str | None = Field(
        None,
        max_length=64,
        description=(
            "The snippet's language, as The Stack v2 names it (`Python`, `C++`, `Visual Basic .NET`) or an"
            " alias (`py`, `cpp`, `js`), ignoring case: it decides which comment and string syntax the"
            " snippet is lexed with. Absent: guessed from the code; a language whence has no syntax"
            " profile for: the default rules."
        ),
    )


class Span(BaseModel):
    query_lines: list[int]
    source_lines: list[int]
    tokens: int


class OccurrenceOut(BaseModel):
    repo: str
    path: str
    url: str
    licenses: list[str]


class Excerpt(BaseModel):
    first_line: int = Field(description="Line number of lines[0] in the source file.")
    lines: list[str]


class MatchOut(BaseModel):
    repo: str
    path: str
    blob_id: str
    url: str
    licenses: list[str]
    license_category: str
    attribution_required: bool
    verdict: str
    score: float = Field(description="Share of the query's tokens this match covers.")
    evidence: str = Field(
        description="What decided the verdict: exact-run, short-rare-run, short-unique-run, "
        "short-shaped-run, edited, renamed, short-rare-renamed, short-unique-renamed, short-renamed-strings, "
        "short-renamed-members, renamed-members, shaped-strings, restructured, restructured-renamed or "
        "partial (see docs/search.md)."
    )
    confidence: float = Field(
        description="The measured precision of this kind of evidence: the share of such matches that "
        "named the right origin in whence's evaluation; the same on every store and index size."
    )
    matched_tokens: int
    longest_span_tokens: int
    spans: list[Span]
    occurrences: list[OccurrenceOut]
    source_excerpt: Excerpt | None = None


class QueryOut(BaseModel):
    lines: int
    tokens: int


class SearchResponse(BaseModel):
    query: QueryOut
    verdict: str = Field(
        description="verbatim, near-duplicate, weak (partial evidence, for a person to judge) or none: "
        "the strongest among the matches."
    )
    matches: list[MatchOut]


class FingerprintFile(BaseModel):
    tokens: int = Field(..., ge=0, le=1 << 22, description="The file's token count.")
    hashes: str = Field(
        "",
        max_length=16_000_000,
        description="The k-gram hashes the file looks up (every k-gram of both views for a short file, the "
        "winnowed ones of a longer one): base64 of 64-bit little-endian integers.",
    )
    bands: str = Field(
        "",
        max_length=88,
        description="The file's 8 MinHash LSH band keys, base64 like `hashes`; empty for a file of fewer "
        "than 140 tokens.",
    )


class FingerprintRequest(BaseModel):
    files: list[FingerprintFile] = Field(
        ..., min_length=1, max_length=1024, description="The files' fingerprints (no code)."
    )


class FingerprintFileAnswer(BaseModel):
    candidates: list[int] = Field(description="Documents to align with the file, best first.")
    hashes: str = Field(description="The candidates' postings: hashes (base64 of 64-bit integers).")
    docs: str = Field(description="The document of each posting (parallel to `hashes`).")
    common: str = Field(description="The file's hashes that are boilerplate (nominate nothing).")


class SourceOccurrence(BaseModel):
    repo: str
    path: str
    licenses: list[str]
    revision: str
    url: str


class SourceDocument(BaseModel):
    text: str = Field(description="The indexed document's content (what the client aligns with).")
    language: str
    blob_id: str
    lines: int
    tokens: int
    length_bytes: int
    occurrences: list[SourceOccurrence]


class FingerprintResponse(BaseModel):
    documents: int = Field(description="Documents in the index.")
    files: list[FingerprintFileAnswer] = Field(description="One answer per file, in the request's order.")
    sources: dict[str, SourceDocument] = Field(description="Every candidate, by document id.")


class RepoFile(BaseModel):
    path: str
    url: str
    revision: str
    licenses: list[str]
    license_category: str
    blob_id: str
    language: str


class RepoResponse(BaseModel):
    repo: str
    in_index: bool
    opted_out: bool
    files_total: int
    licenses: list[str]
    files: list[RepoFile]
    limit: int
    offset: int


class OwnerRepoOut(BaseModel):
    repo: str
    files: int = Field(
        description="Files (occurrences) of it in the index; `/v1/repos/{owner}/{name}` lists them."
    )
    licenses: list[str]
    license_category: str = Field(description="The category of its licenses together (see docs/search.md).")
    opted_out: bool


class OptOutOut(BaseModel):
    repo: str = Field(description="`owner/name`, or `owner/*` for every repository of the owner.")
    added: str


class OwnerResponse(BaseModel):
    owner: str
    in_index: bool = Field(description="Whether the index holds any file of a repository of this owner.")
    opted_out: bool = Field(description="Whether the owner opted out as a whole (`owner/*`).")
    repos_total: int
    repos: list[OwnerRepoOut] = Field(description="One page of the owner's repositories, by name.")
    optouts: list[OptOutOut] = Field(description="The owner's opt-out entries, with when.")
    limit: int
    offset: int


class KeyOut(BaseModel):
    id: str
    name: str
    created: str
    revoked: str | None


class UsageDay(BaseModel):
    day: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class UsageResponse(BaseModel):
    key: KeyOut
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    price_per_million_tokens: float
    by_day: list[UsageDay]


class Health(BaseModel):
    status: str
    version: str
    documents: int
    search_processes: int = Field(
        description="Search processes serving now (0 when searches run on the server's threads)."
    )
