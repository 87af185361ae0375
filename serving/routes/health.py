"""Liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from serving.deps import ServiceDep
from serving.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    model_version: str | None = None
    reasons: list[str] = []


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut,
            responses={503: {"model": ReadyOut, "description": "not ready, with reasons"}})
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when a model is loaded and the database answers."""
    reasons = []
    current = service.models.current
    if current is None:
        reasons.append(service.models.error or "no model loaded")
    try:
        await run_in_threadpool(service.db.ping)
    except Exception as exc:
        reasons.append(f"database unreachable: {exc}")
    body = {"status": "ready" if not reasons else "not ready",
            "model_version": current.version if current else None, "reasons": reasons}
    return JSONResponse(body, status_code=200 if not reasons else 503)


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format 0.0.4"}})
async def metrics(service: ServiceDep) -> Response:
    """Request counts and latencies per route, model info, roll-forwards (all workers)."""
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)
