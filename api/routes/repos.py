"""``GET /v1/repos/{owner}/{name}``: is this repository in the index ("Am I in The Stack?");
``GET /v1/owners/{owner}``: which repositories of this owner are."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from whence.index.licenses import classify
from whence.index.model import OptOuts

from ..deps import Service, api_key, service
from ..http_errors import ApiError
from ..schemas import OwnerResponse, RepoResponse
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
    opted = OptOuts(store.optouts())
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
        "opted_out": repo in opted,
        "files_total": found.total,
        "licenses": found.licenses,
        "files": files,
        "limit": limit,
        "offset": offset,
    }


@router.get("/v1/owners/{owner}", response_model=OwnerResponse)
def owner_repositories(
    owner: str,
    limit: int = Query(100, ge=1, le=1000, description="Repositories per page."),
    offset: int = Query(0, ge=0, le=10_000_000, description="Repositories to skip."),
    svc: Service = Depends(service),  # noqa: B008
    _key: ApiKey = Depends(api_key),  # noqa: B008
) -> dict[str, Any]:
    """Every repository of `owner` the index holds files of (by name, paged), with their file counts,
    licenses and opt-out state; `opted_out` says whether the owner opted out as a whole (`owner/*`), and
    `optouts` lists the owner's opt-out entries."""
    import re

    if not re.match(_PART, owner):
        raise ApiError(422, f"owner: not a repository owner ({owner!r})", field="owner")
    store = svc.store()
    return store.owner(owner, limit=limit, offset=offset).as_dict(store.optouts(), limit, offset)
