"""The FastAPI application: `create_app(settings)`; `app_from_env()` for uvicorn workers.

At startup (lifespan) the database is migrated, the channel tables and the model are loaded
and recorded sell-through is replayed over it; at shutdown the database is released.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from serving import idempotency
from serving.deps import document_security
from serving.errors import install_handlers
from serving.middleware import BodyGuard, Observe
from serving.monitor import AlertMonitor
from serving.reports import ReportService
from serving.routes import (
    admin,
    aggregates,
    alerts,
    allocations,
    channel,
    docs,
    forecasts,
    health,
    reports,
    ui,
)
from serving.service import Service
from serving.settings import Settings

__all__ = ["app_from_env", "create_app"]

DESCRIPTION = """\
Forecasts, allocations and stock risk for a sales channel.

Send an API key as `X-API-Key: <key>` (or `Authorization: Bearer <key>`). Roles: `erp`
(forecasts, stock risk, inventory, sell-through), `planner` (also allocations and their
decisions, acknowledging alerts, monthly reports), `admin` (also model reload, keys, audit
log); alerts and the health index are read with `erp`. Missing or wrong key: 401; a role
below the route's: 403. POSTs accept `Idempotency-Key`: the same key and body, sent again with
the same valid API key, get the recorded answer again (a key creation's replay no longer shows
the key); the same key with another body gets 409. Bad input is 422 with every problem's
field path and reason; unknown series, nodes or skus are 404 naming them.
"""


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """The service's app for `settings` (default: `Settings()`)."""
    service = service or Service(settings or Settings())
    monitor = AlertMonitor(service)
    report_service = ReportService(monitor)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        await run_in_threadpool(monitor.start)
        await run_in_threadpool(report_service.start)
        try:
            yield
        finally:
            await run_in_threadpool(report_service.stop)
            await run_in_threadpool(monitor.stop)
            await run_in_threadpool(service.stop)

    app = FastAPI(title="channelcast", version="1", description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None, openapi_tags=[
                      {"name": "forecasts", "description": "demand forecasts with quantiles"},
                      {"name": "allocations", "description": "split central stock; decide"},
                      {"name": "channel", "description": "stock risk, inventory, sell-through"},
                      {"name": "alerts", "description": "channel alerts and health index"},
                      {"name": "reports", "description": "monthly channel reports"},
                      {"name": "admin", "description": "model, keys, audit log"},
                      {"name": "planner page", "description": "what the page at /ui/ reads"},
                      {"name": "health", "description": "liveness, readiness, metrics"}])
    app.state.service = service
    app.state.monitor = monitor
    app.state.reports = report_service
    install_handlers(app)
    app.add_exception_handler(idempotency.Replay, idempotency.replay_answer)
    for module in (forecasts, aggregates, allocations, channel, alerts, reports, admin, health, ui):
        app.include_router(module.router)
    ui.mount_page(app)
    docs.mount_docs(app)
    document_security(app)
    app.add_middleware(BodyGuard, service=service)
    app.add_middleware(Observe, service=service)
    return app


def app_from_env() -> FastAPI:
    """The app configured from the environment (`uvicorn --factory serving.app:app_from_env`)."""
    return create_app(Settings.from_env(os.environ))
