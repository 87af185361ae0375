"""Route dependencies as `Annotated` aliases: the service, the served model, and the
caller's key and role.

Keys arrive as `X-API-Key: <key>` or `Authorization: Bearer <key>`. A missing, unknown or
revoked key is 401; a key whose role is below the route's is 403; both say what to do.

A POST sent with `Idempotency-Key` claims the key only here, after the key was admitted and
its role allowed (`serving.idempotency`): a revoked key or a lower role never gets a recorded
answer.

Each dependency reads the request only (no sub-dependencies, no worker thread): FastAPI's
dependency solving was half the cost of a forecast request. The OpenAPI security schemes
that sub-dependencies would have declared are added by `document_security`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from serving import idempotency
from serving.errors import ApiError
from serving.keys import ROLES, Principal, hash_key, role_at_least
from serving.model_store import ModelUnavailableError, ServedModel
from serving.service import Service

__all__ = ["AdminDep", "Call", "ErpCall", "ErpDep", "ModelDep", "PlannerDep", "ServiceDep",
           "document_security", "require", "require_call"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="channelcast", ApiKey header="X-API-Key"'}
SECURITY_SCHEMES = {
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "an API key from `channelcast keys create`"},
    "HTTPBearer": {"type": "http", "scheme": "bearer",
                   "description": "the same API key as a bearer token"},
}


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service  # Starlette's app state is untyped
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_model(request: Request) -> ServedModel:
    """The model serving this request (a later swap does not change it)."""
    service: Service = request.app.state.service
    try:
        return service.models.get()
    except ModelUnavailableError as exc:
        raise ApiError(503, str(exc)) from exc


ModelDep = Annotated[ServedModel, Depends(get_model)]


def _presented(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def _principal(request: Request) -> Principal:
    presented = _presented(request)
    if not presented:
        raise ApiError(401, "missing API key: send it as `X-API-Key: <key>` or "
                       "`Authorization: Bearer <key>` (an admin creates keys with "
                       "`channelcast keys create --role erp --name NAME`).", headers=_CHALLENGE)
    service: Service = request.app.state.service
    hit, principal = service.keys.cached(presented)
    if not hit:
        principal = await service.keys.check_shared(presented)
    if principal is None:
        raise ApiError(401, "invalid API key: it is unknown or was revoked; check the key or "
                       "ask an admin for a new one.", headers=_CHALLENGE)
    request.state.principal = principal
    return principal


def require(role: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits keys of `role` or above."""
    if role not in ROLES:
        raise ValueError(f"`role` must be one of {ROLES}; got {role!r}.")

    async def dependency(request: Request) -> Principal:
        principal = await _principal(request)
        if not role_at_least(principal.role, role):
            above = [r for r in ROLES if role_at_least(r, role)]
            raise ApiError(403, f"key {principal.name!r} has role `{principal.role}`, which may "
                           f"not {request.method} {request.url.path}: that needs role "
                           f"{' or '.join(f'`{r}`' for r in above)}.")
        attempt = idempotency.current()
        if attempt is not None and not attempt.tried:
            await run_in_threadpool(idempotency.claim, request.app.state.service.db, attempt,
                                    hash_key(_presented(request) or ""))
        return principal

    return dependency


@dataclass(frozen=True)
class Call:
    """The caller, the served model and the service of one request, from one dependency."""

    who: Principal
    model: ServedModel
    service: Service


def require_call(role: str) -> Callable[[Request], Awaitable[Call]]:
    """One dependency for hot routes: the key (admitted at `role` or above), then the model.
    Each dependency FastAPI solves costs about 0.1 ms, a fifth of a forecast request."""
    admit = require(role)

    async def dependency(request: Request) -> Call:
        who = await admit(request)
        return Call(who=who, model=await get_model(request),
                    service=request.app.state.service)

    return dependency


ErpCall = Annotated[Call, Depends(require_call("erp"))]
ErpDep = Annotated[Principal, Depends(require("erp"))]
PlannerDep = Annotated[Principal, Depends(require("planner"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]


def document_security(app: FastAPI) -> None:
    """Declare the key schemes in the OpenAPI schema, on every operation that can answer
    401 (every route behind `require`, whose routers document `ERROR_RESPONSES`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes,
                             tags=app.openapi_tags)
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and "401" in operation.get("responses", {}):
                    operation["security"] = [{"APIKeyHeader": []}, {"HTTPBearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
