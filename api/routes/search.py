"""``POST /v1/search``: where did this snippet come from?"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from whence.index import search as search_mod

from ..deps import Service, api_key, service
from ..schemas import SearchRequest, SearchResponse
from ..state import ApiKey

router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse)
async def search(
    body: SearchRequest,
    svc: Service = Depends(service),  # noqa: B008
    _key: ApiKey = Depends(api_key),  # noqa: B008
) -> JSONResponse:
    """Search a snippet: the same JSON as `whence search --format json`, best match first.

    With `with_text`, each match also carries `source_excerpt`: the matched source lines (and two
    around them) for side-by-side display.  `language` sets the snippet's comment and string syntax
    (guessed from the code when absent)."""
    out = await svc.searches.search(
        body.code,
        top=body.top or svc.settings.search_top,
        min_tokens=body.min_tokens or search_mod.MIN_MATCH_TOKENS,
        with_text=body.with_text,
        language=body.language,
    )
    svc.metrics.verdicts.labels(out["verdict"]).inc()
    # Built from the contract's own as_dict(): returned as is, not re-validated against the model
    # (the schema tests check that it conforms), which saves a pydantic round trip per request.
    return JSONResponse(out)
