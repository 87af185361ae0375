"""What the ERP sends and asks about the channel: stock risk, inventory snapshots, and new
sell-through (which rolls the model forward, and which an admin can revert). New
sell-through and inventory queue alert detection for their periods (`serving.monitor`).

Posted dates are checked for plausibility first (`serving.plausibility`): sell-through only
in the first `Settings.max_periods_ahead` periods after the model's origin, on its grid;
inventory `as_of` from 1900 to that many periods after today or the origin."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from features.schema import DATE, ITEM, NODE
from serving.contract import JsonRow, RowProblem, check_rows, nodes_of_model
from serving.decisions import risk_rows
from serving.deps import AdminDep, ErpDep, ModelDep, ServiceDep
from serving.errors import ERROR_RESPONSES, ApiError, documented, linked, summary
from serving.model_store import ModelUnavailableError, ServedModel
from serving.monitor import monitor_of
from serving.plausibility import PeriodWindow, as_of_problems, period_problems
from serving.reports import reports_of
from serving.schemas import (
    ErrorItemJson,
    InventoryIn,
    InventoryOut,
    RiskIn,
    RiskOut,
    SellThroughIn,
    SellThroughOut,
    SellThroughRevertOut,
)
from serving.service import BatchConflictError
from serving.tables import as_utc

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["channel"], responses=ERROR_RESPONSES)
_404 = documented(_404="unknown node or sku (each named)")
_409 = documented(_409="the service lacks what this needs")


@router.post("/stock-risk", response_model=RiskOut, responses={**_404, **_409})
def rank_stock_risk(body: RiskIn, _who: ErpDep, model: ModelDep, service: ServiceDep
                    ) -> RiskOut:
    """Stock-out and excess risk per stocked node x sku, ranked by expected lost value."""
    tables = service.channel
    rows, total = risk_rows(model, tables, body)
    as_of = (f"snapshot {tables.snapshot_id} of {tables.snapshot_at:%Y-%m-%d %H:%M} UTC"
             if tables.snapshot_at else f"data folder {tables.source}")
    return RiskOut(model_version=model.version, origin=model.forecaster.origin.date(),
                   inventory_as_of=as_of, total=total, rows=rows)


def _refuse(problems: list[RowProblem], what: str, first: list[RowProblem] | None = None,
            more: int = 0) -> None:
    """422 for any contract problem; 404 when the only problems are unknown nodes.

    `first` (implausible dates, `more` of them in all) lead the list and replace the
    contract's own problems with the same field."""
    first = first or []
    taken = {p.loc for p in first}
    problems = [*first, *(p for p in problems if p.loc not in taken)]
    if not problems:
        return
    items = [p.as_dict() for p in problems[:1000]]
    if all(p.unknown_node for p in problems):
        ids = sorted({p.value or "" for p in problems})
        raise ApiError(404, f"unknown node(s) {', '.join(map(repr, ids[:20]))} in {what}: not "
                       "in the node table; nothing was applied.", errors=items)
    count = len(problems) - len(first) + max(more, len(first))
    raise ApiError(422, f"{count} problem(s) in {what}, nothing was applied; first: "
                   f"{summary(items, more_word='problem')}", errors=items)


def _window(service: ServiceDep, model: ServedModel | None) -> PeriodWindow | None:
    if model is None:
        return None
    return PeriodWindow(origin=model.forecaster.origin, freq=model.forecaster.freq,
                        ahead=service.settings.max_periods_ahead)


def _nodes(service: ServiceDep) -> pd.DataFrame:
    nodes = service.channel.nodes
    if nodes is not None:
        return nodes
    current = service.models.current
    ids = [] if current is None else sorted(current.forecaster.keys[NODE].astype(str).unique())
    return nodes_of_model(ids)


def _records(rows: Sequence[BaseModel]) -> list[JsonRow]:
    return [r.model_dump(mode="json", exclude_none=True) for r in rows]


@router.put("/inventory", response_model=InventoryOut, responses=_404)
def put_inventory(body: InventoryIn, who: ErpDep, service: ServiceDep, request: Request
                  ) -> InventoryOut:
    """Replace the inventory snapshot (and the central stock, when sent); validated by the
    data contract, all or nothing."""
    tables = {"inventory": _records(body.inventory)}
    if body.central_stock is not None:
        tables["central_stock"] = _records(body.central_stock)
    _, problems = check_rows(tables, nodes=_nodes(service))
    more, implausible = as_of_problems([r.as_of for r in body.inventory],
                                       today=pd.Timestamp.now("UTC").tz_localize(None).normalize(),
                                       window=_window(service, service.models.current))
    _refuse(problems, "the snapshot", implausible, more)
    snap = service.put_inventory(inventory=tables["inventory"],
                                 central_stock=tables.get("central_stock"), by=who.name)
    monitor = monitor_of(request)
    monitor.submit(monitor.inventory_periods(), trigger=f"inventory snapshot {snap.id}")
    request.state.audit = {"action": "inventory.put", "object_id": str(snap.id),
                           "detail": {"rows": len(body.inventory),
                                      "central_stock_rows": len(body.central_stock or [])}}
    return InventoryOut(snapshot_id=snap.id, rows=len(body.inventory),
                        central_stock_rows=None if body.central_stock is None else
                        len(body.central_stock), created_at=as_utc(snap.created_at))


def _check_series(rows: pd.DataFrame, model: ServedModel) -> None:
    """404 naming series the model does not know."""
    pairs = list(zip(rows[NODE].astype(str), rows[ITEM].astype(str), strict=True))
    unknown = {p for p in pairs if p not in model.index}
    if unknown:
        shown = ", ".join(f"({n}, {s})" for n, s in sorted(unknown)[:20])
        errors: list[ErrorItemJson] = [
            {"loc": ["body", "rows", i, "sku"], "type": "unknown_series",
             "msg": f"series ({n}, {s}) is not in the model", "value": f"{n}/{s}"}
            for i, (n, s) in enumerate(pairs) if (n, s) in unknown]
        raise ApiError(404, f"{len(unknown)} series not in the model: {shown}; nothing was "
                       "applied (train a version with their history to forecast them).",
                       errors=errors[:1000])


def _why_old(service: ServiceDep, model: ServedModel) -> Callable[[date], str]:
    """Why a period at or before the origin cannot be posted, and how to correct it."""
    said: dict[date, str] = {}

    def why(day: date) -> str:
        if day not in said:
            batch = (None if pd.Timestamp(model.origin_at_load).date() >= day
                     else service.batch_of_period(day))
            said[day] = (
                f"sell-through batch {batch} applied it; to correct it an admin reverts that "
                f"batch and any later one (POST /v1/sell-through/{batch}/revert), then the "
                "corrected rows are posted again" if batch is not None else
                "it is in the model already (in its training data: a new version trained on "
                "corrected history changes it)")
        return said[day]

    return why


@router.post("/sell-through", response_model=SellThroughOut, status_code=201,
             responses={**_404, **_409, **linked(
                 201, "batch_id", RevertBatch="POST /v1/sell-through/{batch_id}/revert")})
async def post_sell_through(body: SellThroughIn, who: ErpDep, model: ModelDep,
                            service: ServiceDep, request: Request) -> SellThroughOut:
    """New periods of sell-through: validated (row-level errors, all or nothing), then the
    model rolls forward over them without retraining and answers from the new origin."""
    if getattr(model.forecaster, "state", None) is None:
        raise ApiError(409, "the served model keeps no history, so it cannot roll forward; "
                       "train and promote a new version.")
    records = _records(body.rows)
    accepted, problems = await run_in_threadpool(
        check_rows, {"sell_through": records}, nodes=_nodes(service),
        freq=model.forecaster.freq, fields={"sell_through": "rows"})
    window = PeriodWindow(origin=model.forecaster.origin, freq=model.forecaster.freq,
                          ahead=service.settings.max_periods_ahead)
    more, implausible = await run_in_threadpool(
        period_problems, [r.date for r in body.rows], window, field="rows",
        why_old=_why_old(service, model))
    _refuse(problems, "the sell-through rows", implausible, more)
    rows = accepted["sell_through"]
    _check_series(rows, model)
    try:
        batch, swapped = await run_in_threadpool(service.roll_forward, rows, records=records,
                                                 by=who.name)
    except ValueError as exc:
        raise ApiError(422, f"cannot roll the model forward over these rows: {exc}; nothing "
                       "was applied.") from exc
    monitor_of(request).submit({d.date() for d in rows[DATE]},
                               trigger=f"sell-through batch {batch.id}")
    reports_of(request).submit({d.date() for d in rows[DATE]},
                               trigger=f"sell-through batch {batch.id}")
    request.state.audit = {"action": "sell_through.post", "object_id": str(batch.id),
                           "detail": {"rows": batch.n_rows, "origin_before": batch.origin_before,
                                      "origin_after": batch.origin_after}}
    return SellThroughOut(batch_id=batch.id, rows=batch.n_rows,
                          origin_before=date.fromisoformat(batch.origin_before),
                          origin_after=date.fromisoformat(batch.origin_after),
                          model_version=swapped.version)


@router.post("/sell-through/{batch_id}/revert", response_model=SellThroughRevertOut,
             responses=documented(
                 _404="no sell-through batch of that id",
                 _409="the batch was reverted already, or the batches that remain cannot be "
                      "replayed over the model",
                 _503="no model is loaded, or its registry version cannot be loaded"))
async def revert_sell_through(batch_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                              who: AdminDep, service: ServiceDep, request: Request
                              ) -> SellThroughRevertOut:
    """Revert a sell-through batch (admin): the model is rebuilt from its registry version
    and the batches that remain, in order; other workers follow within their sync interval
    and a restart no longer replays it."""
    try:
        batch, model, before = await run_in_threadpool(service.revert, batch_id, by=who.name)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from exc
    except BatchConflictError as exc:
        raise ApiError(409, str(exc)) from exc
    except ModelUnavailableError as exc:
        raise ApiError(503, str(exc)) from exc
    except Exception as exc:  # the registry version could not be loaded
        raise ApiError(503, f"cannot rebuild the model to revert batch {batch_id}: {exc}; "
                       "nothing was reverted, the current model keeps serving.") from exc
    origin = f"{model.forecaster.origin:%Y-%m-%d}"
    request.state.audit = {"action": "sell_through.revert", "object_id": str(batch.id),
                           "detail": {"rows": batch.n_rows, "origin_before": f"{before:%Y-%m-%d}",
                                      "origin_after": origin}}
    assert batch.reverted_at is not None and batch.reverted_by is not None  # set by revert
    return SellThroughRevertOut(
        batch_id=batch.id, rows=batch.n_rows, reverted_at=as_utc(batch.reverted_at),
        reverted_by=batch.reverted_by, origin_before=before.date(),
        origin=model.forecaster.origin.date(), model_version=model.version,
        sell_through_batches=model.batches)
