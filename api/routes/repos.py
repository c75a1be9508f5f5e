"""``GET /v1/repos/{owner}/{name}``: is this repository in the index ("Am I in The Stack?")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from whence.index.licenses import classify

from ..deps import Service, api_key, service
from ..http_errors import ApiError
from ..schemas import RepoResponse
from ..state import ApiKey

router = APIRouter(tags=["repositories"])
_PART = r"^[A-Za-z0-9_.-]{1,100}$"


@router.get("/v1/repos/{owner}/{name}", response_model=RepoResponse)
def repository(
    owner: str,
    name: str,
    limit: int = Query(100, ge=1, le=1000, description="Files per page."),
    offset: int = Query(0, ge=0, le=10_000_000, description="Files to skip."),
    svc: Service = Depends(service),  # noqa: B008
    _key: ApiKey = Depends(api_key),  # noqa: B008
) -> dict[str, Any]:
    """Whether the index holds files of `owner/name`, which ones (by path, paged) and under which licenses;
    `opted_out` says whether the repository asked to be left out."""
    import re

    for field, value in (("owner", owner), ("name", name)):
        if not re.match(_PART, value):
            raise ApiError(422, f"{field}: not a repository {field} ({value!r})", field=field)
    repo = f"{owner}/{name}"
    store = svc.store()
    found = store.repository(repo, limit=limit, offset=offset)
    opted = {r.lower() for r in store.optouts()}
    files = []
    for f in found.files:
        occ = f.occurrence
        files.append({
            "path": occ.path, "url": occ.url, "revision": occ.revision, "licenses": list(occ.licenses),
            "license_category": classify(occ.licenses).category, "blob_id": f.blob_id, "language": f.language,
        })  # fmt: skip
    return {
        "repo": found.repo,
        "in_index": found.total > 0,
        "opted_out": repo.lower() in opted,
        "files_total": found.total,
        "licenses": found.licenses,
        "files": files,
        "limit": limit,
        "offset": offset,
    }
