"""OpenAI's model routes: ``GET /v1/models`` lists the served model, ``GET /v1/models/{id}`` describes it.

The model is listed under its public name (``WHENCE_SERVED_MODEL_NAME``, ``whence serve
--served-model-name``), never under the folder or URL it is served from; a server without a model lists
none.  Errors are OpenAI's (``whence.api.http_errors.openai_error_body``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ..deps import Service, api_key, service
from ..http_errors import ApiError
from ..state import ApiKey

router = APIRouter(tags=["generation"])


def _model(svc: Service) -> dict[str, Any]:
    return {
        "id": svc.settings.served_model_name,
        "object": "model",
        "created": svc.started,
        "owned_by": "whence",
    }


@router.get("/v1/models")
def list_models(svc: Service = Depends(service), _key: ApiKey = Depends(api_key)) -> dict[str, Any]:  # noqa: B008
    """The served model, in OpenAI's list shape (`{"object": "list", "data": [...]}`); empty when the
    server has no model (`--model` / `--remote`)."""
    return {"object": "list", "data": [_model(svc)] if svc.has_model else []}


@router.get("/v1/models/{model_id:path}", responses={404: {"description": "No such model."}})
def retrieve_model(
    model_id: str,
    svc: Service = Depends(service),  # noqa: B008
    _key: ApiKey = Depends(api_key),  # noqa: B008
) -> dict[str, Any]:
    """One model in OpenAI's shape (`id`, `object`, `created`, `owned_by`); 404 unless it is the served
    one."""
    if not svc.has_model or model_id != svc.settings.served_model_name:
        raise ApiError(404, f"the model {model_id!r} does not exist", field="model", code="model_not_found")
    return _model(svc)
