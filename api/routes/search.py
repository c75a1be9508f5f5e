"""``POST /v1/search``: where did this snippet come from?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from whence.index import search as search_mod

from ..deps import Service, api_key, service
from ..schemas import SearchRequest, SearchResponse
from ..state import ApiKey

router = APIRouter(tags=["search"])
_EXCERPT_CONTEXT = 2  # lines shown around the matched source lines
_EXCERPT_MAX = 400


@router.post("/v1/search", response_model=SearchResponse)
def search(
    body: SearchRequest,
    svc: Service = Depends(service),  # noqa: B008
    _key: ApiKey = Depends(api_key),  # noqa: B008
) -> JSONResponse:
    """Search a snippet: the same JSON as `whence search --format json`, best match first.

    With `with_text`, each match also carries `source_excerpt`: the matched source lines (and two
    around them) for side-by-side display."""
    store = svc.store()
    result = search_mod.search(
        store,
        body.code,
        top=body.top or svc.settings.search_top,
        min_tokens=body.min_tokens or search_mod.MIN_MATCH_TOKENS,
        with_text=body.with_text,
    )
    svc.metrics.verdicts.labels(result.verdict).inc()
    out = result.as_dict()
    if body.with_text:
        for m, d in zip(result.matches, out["matches"], strict=True):
            d["source_excerpt"] = _excerpt(m)
    # Built from the contract's own as_dict(): returned as is, not re-validated against the model
    # (the schema tests check that it conforms), which saves a pydantic round trip per request.
    return JSONResponse(out)


def _excerpt(m: search_mod.Match) -> dict[str, Any] | None:
    if not m.source_text or not m.spans:
        return None
    lines = m.source_text.splitlines()
    first = max(1, min(s.source_lines[0] for s in m.spans) - _EXCERPT_CONTEXT)
    last = min(
        len(lines), max(s.source_lines[1] for s in m.spans) + _EXCERPT_CONTEXT, first + _EXCERPT_MAX - 1
    )
    return {"first_line": first, "lines": lines[first - 1 : last]}
