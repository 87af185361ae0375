"""Allocations: propose (recorded with an id), read, list, and the planner's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypedDict

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from models.allocation import line_records, off_pack, over_available, override_lines, unknown_lines
from models.allocation.override import Line
from serving import idempotency
from serving.db import rows_changed
from serving.decisions import allocation_lines
from serving.deps import ModelDep, PlannerDep, ServiceDep
from serving.errors import ERROR_RESPONSES, ApiError, documented, linked
from serving.keys import Principal
from serving.schemas import (
    TEXT_CHECK,
    AllocationDecisionIn,
    AllocationIn,
    AllocationList,
    AllocationOut,
)
from serving.schemas.allocations import AllocationSummary
from serving.tables import AllocationDecisionRow, AllocationRow, as_utc, utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["allocations"], responses=ERROR_RESPONSES)
_404 = documented(_404="unknown allocation, sku or node")
_409 = documented(_409="approved allocations are immutable")
AllocationId = Annotated[int, Path(ge=1, le=2**31 - 1, description="allocation id")]


def _iso(value: datetime | None) -> str | None:
    when = as_utc(value)
    return None if when is None else when.isoformat().replace("+00:00", "Z")


class _DecisionJson(TypedDict):
    action: str
    reason: str | None
    changes: list[dict[str, object]]
    decided_by: str
    decided_at: str | None


class _AllocationJson(TypedDict):
    """An `AllocationOut`, JSON-ready (answered without validation)."""

    id: int
    sku: str
    status: str
    policy: str
    available: float
    pack_size: int
    allocated: float
    model_version: str | None
    model_origin: str
    created_by: str
    created_at: str | None
    decided_by: str | None
    decided_at: str | None
    lines: list[dict[str, object]]
    decisions: list[_DecisionJson]


def _allocated(row: AllocationRow) -> float:
    total: float = sum(line["allocated"] for line in row.lines)  # stored JSON numbers
    return total


def _out(row: AllocationRow) -> _AllocationJson:
    """The answer for one allocation, JSON-ready (answered without re-validation: an
    allocation holds hundreds of lines)."""
    return {
        "id": row.id, "sku": row.sku, "status": row.status, "policy": row.policy,
        "available": row.available, "pack_size": row.pack_size,
        "allocated": _allocated(row),
        "model_version": row.model_version, "model_origin": row.model_origin,
        "created_by": row.created_by, "created_at": _iso(row.created_at),
        "decided_by": row.decided_by, "decided_at": _iso(row.decided_at),
        "lines": row.lines,
        "decisions": [{"action": d.action, "reason": d.reason, "changes": d.changes,
                       "decided_by": d.decided_by, "decided_at": _iso(d.decided_at)}
                      for d in row.decisions]}


_CREATED = linked(201, "id", ReadAllocation="GET /v1/allocations/{allocation_id}",
                  DecideAllocation="POST /v1/allocations/{allocation_id}/decision",
                  PreviewAllocation="POST /v1/allocations/{allocation_id}/preview")


@router.post("/allocations", response_model=AllocationOut, status_code=201,
             responses={**_404, **_CREATED})
def create_allocation(body: AllocationIn, who: PlannerDep, model: ModelDep,
                      service: ServiceDep, request: Request) -> JSONResponse:
    """Split an sku's central stock across nodes, explained line by line; recorded."""
    table, run = allocation_lines(model, service.channel, body)
    with service.db.session() as session:
        row = AllocationRow(
            sku=body.sku, status="proposed", policy=body.policy, available=run.available,
            pack_size=run.pack_size, request=body.model_dump(mode="json"),
            lines=line_records(table), model_version=model.version,
            model_origin=f"{model.forecaster.origin:%Y-%m-%d}", created_by=who.name,
            created_at=utcnow(), decisions=[])
        session.add(row)
        session.flush()
        out = _out(row)
        idempotency.answer(201, out)  # recorded with the allocation, in its transaction
    request.state.audit = {"action": "allocation.create", "object_id": str(row.id),
                           "detail": {"sku": body.sku, "allocated": out["allocated"]}}
    return JSONResponse(out, status_code=201)


def _load(session: Session, allocation_id: int) -> AllocationRow:
    row = session.scalar(select(AllocationRow).where(AllocationRow.id == allocation_id)
                         .options(selectinload(AllocationRow.decisions)))
    if row is None:
        raise ApiError(404, f"allocation {allocation_id} does not exist.")
    return row


@router.get("/allocations/{allocation_id}", response_model=AllocationOut, responses=_404)
def read_allocation(allocation_id: AllocationId, _who: PlannerDep, service: ServiceDep
                    ) -> JSONResponse:
    """One allocation with its lines and decisions."""
    with service.db.session() as session:
        return JSONResponse(_out(_load(session, allocation_id)))


@router.get("/allocations", response_model=AllocationList)
def list_allocations(
    _who: PlannerDep, service: ServiceDep,
    sku: Annotated[str | None, Query(max_length=200), TEXT_CHECK] = None,
    status: Literal["proposed", "overridden", "approved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> AllocationList:
    """Allocations, newest first, optionally of one sku and/or status."""
    where = []
    if sku is not None:
        where.append(AllocationRow.sku == sku)
    if status is not None:
        where.append(AllocationRow.status == status)
    with service.db.session() as session:
        total = session.scalar(select(func.count()).select_from(AllocationRow).where(*where))
        rows = session.scalars(select(AllocationRow).where(*where)
                               .order_by(AllocationRow.id.desc()).limit(limit).offset(offset))
        items = [_summary(r) for r in rows]
    return AllocationList(items=items, total=total or 0)


def _summary(row: AllocationRow) -> AllocationSummary:
    return AllocationSummary(id=row.id, sku=row.sku, status=row.status, policy=row.policy,
                             available=row.available, allocated=_allocated(row),
                             created_by=row.created_by, created_at=as_utc(row.created_at),
                             decided_by=row.decided_by, decided_at=as_utc(row.decided_at))


def _override(row: AllocationRow, body: AllocationDecisionIn, who: Principal
              ) -> tuple[list[Line], list[dict[str, object]]]:
    """The new lines and the changes; 404/422 for unknown nodes and bad quantities."""
    if not body.reason or not body.reason.strip():
        raise ApiError(422, "body.reason: an override needs a reason.", errors=[
            {"loc": ["body", "reason"], "msg": "required to override", "type": "missing"}])
    if not body.lines:
        raise ApiError(422, "body.lines: an override changes at least one line "
                       "(node_id -> units).", errors=[{"loc": ["body", "lines"],
                                                       "msg": "empty", "type": "missing"}])
    unknown = unknown_lines(row.lines, body.lines)
    if unknown:
        raise ApiError(404, f"node(s) {', '.join(map(repr, unknown[:20]))} have no line in "
                       f"allocation {row.id} (sku {row.sku}).", errors=[
                           {"loc": ["body", "lines", n], "msg": "no such line",
                            "type": "unknown_node", "value": n} for n in unknown[:100]])
    bad = off_pack(body.lines, row.pack_size)
    if bad:
        raise ApiError(422, f"body.lines: quantities must be multiples of the pack size "
                       f"{row.pack_size}; {bad[0]!r} got {body.lines[bad[0]]:g}.", errors=[
                           {"loc": ["body", "lines", n], "type": "pack_size",
                            "msg": f"not a multiple of {row.pack_size}",
                            "value": f"{body.lines[n]:g}"} for n in bad])
    new, changes = override_lines(row.lines, body.lines, pack_size=row.pack_size, by=who.name,
                                  reason=body.reason)
    total = over_available(new, row.available)
    if total is not None:
        raise ApiError(422, f"body.lines: the lines would allocate {total:g} units but only "
                       f"{row.available:g} are available.", errors=[
                           {"loc": ["body", "lines"], "msg": "over the available stock",
                            "type": "over_available", "value": f"{total:g}"}])
    return new, changes


@router.post("/allocations/{allocation_id}/decision", response_model=AllocationOut,
             responses={**_404, **_409})
def decide_allocation(allocation_id: AllocationId, body: AllocationDecisionIn,
                      who: PlannerDep, service: ServiceDep, request: Request
                      ) -> JSONResponse:
    """Approve an allocation (then it never changes), or override lines with a reason."""
    with service.db.session() as session:
        row = _load(session, allocation_id)
        if row.status == "approved":
            raise ApiError(409, f"allocation {row.id} was approved by {row.decided_by} at "
                           f"{as_utc(row.decided_at):%Y-%m-%d %H:%M} UTC and can no longer "
                           "change; create a new allocation instead.")
        now = utcnow()
        lines, changes = (_override(row, body, who) if body.action == "override"
                          else (row.lines, []))
        status = "approved" if body.action == "approve" else "overridden"
        done = session.execute(update(AllocationRow).where(
            AllocationRow.id == row.id, AllocationRow.status != "approved").values(
            status=status, lines=lines, decided_by=who.name, decided_at=now))
        if rows_changed(done) != 1:
            raise ApiError(409, f"allocation {row.id} was approved meanwhile; it can no "
                           "longer change.")
        session.add(AllocationDecisionRow(allocation_id=row.id, action=body.action,
                                          reason=body.reason, changes=changes,
                                          decided_by=who.name, decided_at=now))
        session.flush()
        session.expire_all()
        out = _out(_load(session, allocation_id))
        idempotency.answer(200, out)
    request.state.audit = {"action": f"allocation.{body.action}", "object_id": str(row.id),
                           "detail": {"reason": body.reason, "changes": changes}}
    return JSONResponse(out)

