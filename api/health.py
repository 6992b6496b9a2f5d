"""``GET /health``: whether each component is up; 200 only when the service can take calls.

The report is the service's own (``Services.health``), which reads what its monitor last saw and bounds
every check it makes, so it comes within a second. From the API's process it crosses the control channel,
which waits ``hotline.control.HEALTH_TIMEOUT`` (2 s) for it: a service that does not answer in time (stopped,
hung) is reported as unable to take calls, with that sentence, rather than leaving the request hanging.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import ServicesDep, Unavailable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    can_take_calls: bool
    components: dict[str, Any]
    detail: str | None = None
    """Why calls cannot be taken, in sentences (None when they can)."""


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(services: ServicesDep) -> JSONResponse:
    try:
        components = services.health()
    except Unavailable as exc:
        body = Health(can_take_calls=False, components={}, detail=str(exc))
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    verdict = components.get("can_take_calls", {})
    ok = bool(verdict.get("up", False))
    reasons = [str(r) for r in verdict.get("reasons", [])]
    detail = None if ok else (" ".join(reasons) or "The service cannot take calls.")
    body = Health(can_take_calls=ok, components={k: v for k, v in components.items() if k != "can_take_calls"},
                  detail=detail)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
