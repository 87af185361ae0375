"""The served model (current, reload), API keys and the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from serving import idempotency
from serving.deps import AdminDep, ErpDep, ModelDep, ServiceDep
from serving.errors import ERROR_RESPONSES, ApiError, documented
from serving.keys import KEY_NAME_MAX, create_key, list_keys, revoke_key
from serving.model_store import ServedModel
from serving.schemas import TEXT_CHECK, AuditEntry, KeyCreatedOut, KeyCreateIn, KeyOut, ModelOut
from serving.tables import AuditRow, as_utc

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["admin"], responses=ERROR_RESPONSES)
KeyName = Annotated[str, Path(min_length=1, max_length=KEY_NAME_MAX), TEXT_CHECK]


def model_out(model: ServedModel, previous: str | None = None) -> ModelOut:
    f = model.forecaster
    return ModelOut(model_name=model.name, model_version=model.version, model_uri=model.uri,
                    run_id=model.run_id, loaded_at=model.loaded_at, origin=f.origin.date(),
                    origin_at_load=model.origin_at_load.date(), freq=f.freq, horizon=f.horizon,
                    series=len(f.keys), models=sorted(f.means),
                    sell_through_batches=model.batches, previous_version=previous)


@router.get("/models/current", response_model=ModelOut)
async def current_model(_who: ErpDep, model: ModelDep) -> ModelOut:
    """The model answering now: registry version, origin, horizon, roll-forwards."""
    return model_out(model)


@router.post("/models/reload", response_model=ModelOut)
async def reload_model(who: AdminDep, service: ServiceDep, request: Request) -> ModelOut:
    """Load the model URI again (e.g. after a new champion) and swap it in; requests in
    flight finish on the model they started with."""
    try:
        model, previous = await run_in_threadpool(service.reload, by=who.name)
    except Exception as exc:
        raise ApiError(503, f"cannot load {service.settings.model_uri}: {exc}; the previous "
                       "model keeps serving.") from exc
    request.state.audit = {"action": "model.reload", "object_id": model.version,
                           "detail": {"previous_version": previous, "uri": model.uri}}
    return model_out(model, previous)


@router.post("/keys", response_model=KeyCreatedOut, status_code=201,
             responses=documented(_409="name taken"))
def create_api_key(body: KeyCreateIn, _who: AdminDep, service: ServiceDep, request: Request
                   ) -> KeyCreatedOut:
    """Create a key; the answer holds the key itself, once: a replay of the request (same
    Idempotency-Key) says the key was created and shows it no more (`key` null)."""
    try:
        info, key = create_key(service.db, name=body.name, role=body.role)
    except ValueError as exc:
        raise ApiError(409, str(exc)) from exc
    request.state.audit = {"action": "key.create", "object_id": info.name,
                           "detail": {"role": info.role}}
    facts = KeyCreatedOut(**asdict(info), key=None, note=(
        f"key {info.name!r} was already created by this request (same Idempotency-Key) at "
        f"{info.created_at:%Y-%m-%d %H:%M:%S} UTC; it is shown only once: if it was lost, "
        f"revoke it (DELETE /v1/keys/{info.name}) and create another."))
    idempotency.record_instead(facts.model_dump(mode="json"))
    return KeyCreatedOut(**asdict(info), key=key)


@router.get("/keys", response_model=list[KeyOut])
def read_api_keys(_who: AdminDep, service: ServiceDep) -> list[KeyOut]:
    """Every key (name, role, prefix, created, revoked); never the keys themselves."""
    return [KeyOut(**asdict(k)) for k in list_keys(service.db)]


@router.delete("/keys/{name}", response_model=KeyOut,
               responses=documented(_404="no key of that name"))
def revoke_api_key(name: KeyName, _who: AdminDep, service: ServiceDep, request: Request
                   ) -> KeyOut:
    """Revoke a key: it stops working at once."""
    try:
        info = revoke_key(service.db, name=name)
    except KeyError as exc:
        raise ApiError(404, str(exc)) from exc
    service.keys.forget()
    request.state.audit = {"action": "key.revoke", "object_id": info.name}
    return KeyOut(**asdict(info))


@router.get("/audit", response_model=list[AuditEntry])
def read_audit_log(_who: AdminDep, service: ServiceDep,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0
                   ) -> list[AuditEntry]:
    """The audit log, newest first."""
    service.audit.flush()
    with service.db.session() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
                               .offset(offset))
        return [AuditEntry(id=r.id, at=as_utc(r.at), actor=r.actor, role=r.role,
                           method=r.method, path=r.path, status=r.status, action=r.action,
                           object_id=r.object_id, detail=r.detail) for r in rows]
