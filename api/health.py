"""``GET /health``: whether each component is up; 200 only when the service can take calls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    can_take_calls: bool
    components: dict[str, Any]


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(services: ServicesDep) -> JSONResponse:
    components = services.health()
    ok = bool(components.get("can_take_calls", {}).get("up", False))
    body = Health(can_take_calls=ok, components={k: v for k, v in components.items() if k != "can_take_calls"})
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
