"""``POST /v1/search``: where did this snippet come from?  ``POST /v1/search/fingerprints``: the same
question for files the client keeps, asked with their fingerprints only (``whence scan --remote``)."""

from __future__ import annotations

import gzip
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from whence.errors import AnswerTooLarge, InvalidInput
from whence.index import remote
from whence.index import search as search_mod

from ..deps import Service, api_key, service
from ..http_errors import ApiError
from ..schemas import FingerprintRequest, FingerprintResponse, SearchRequest, SearchResponse
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


@router.post("/v1/search/fingerprints", response_model=FingerprintResponse)
def search_fingerprints(
    body: FingerprintRequest,
    request: Request,
    svc: Service = Depends(service),  # noqa: B008
    _key: ApiKey = Depends(api_key),  # noqa: B008
) -> Response:
    """Candidates for files whose code stays with the client (`whence scan --remote`).

    Each file is sent as its token count, the k-gram hashes it looks up and its LSH band keys: no code,
    no line, no path.  The answer gives, per file, the indexed documents to align with it (found and
    ranked as a local scan ranks them) with their postings, and each candidate's text, metadata and
    occurrences; the client aligns them and reports what a local scan of this index reports.  Gzip-
    compressed when the request accepts it; 413 when the candidates of several files add up to more
    than 64 MiB of text (send fewer at once)."""
    try:
        files = remote.read_request(body.model_dump())
        # Plain `def`: FastAPI runs it on its thread pool, with this thread's store handle.
        out = remote.answer(svc.store(), files)
    except AnswerTooLarge as exc:
        raise ApiError(413, str(exc), field="files") from exc
    except InvalidInput as exc:
        raise ApiError(422, str(exc), field=str(exc).split(":", 1)[0]) from exc
    data = json.dumps(out, separators=(",", ":")).encode("utf-8")
    # The candidates' texts make the answer large, and source code compresses about 4 to 1.
    if "gzip" in request.headers.get("accept-encoding", "").lower() and len(data) > 1024:
        return Response(gzip.compress(data, compresslevel=4), media_type="application/json",
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})  # fmt: skip
    return Response(data, media_type="application/json", headers={"Vary": "Accept-Encoding"})
