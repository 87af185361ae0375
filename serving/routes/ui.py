"""What the planner page reads besides the ERP API: who is signed in, the node and sku
lists for its filters, recent sell-through for sparklines, one series' history and
forecast, and the stock-out effect of edited allocation lines before they are committed.

The page itself (static files under `serving/web/`, no CDN) is mounted at `/ui/`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, SupportsFloat

import numpy as np
import pandas as pd
from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import select

from features.periods import is_monthly, period_word
from features.schema import CHANNEL, DATE, ITEM, NODE, ON_HAND, PARENT, PROMO, UNITS
from serving.decisions import allocation_demand, edited_reason
from serving.deps import ErpDep, ModelDep, PlannerDep, ServiceDep
from serving.errors import ERROR_RESPONSES, ApiError
from serving.model_store import ServedModel
from serving.schemas import Count, ForecastPoint, SeriesKey, Units, band_points
from serving.schemas import Id as BodyId
from serving.tables import AllocationRow
from training.tracking.pyfunc import served_model

__all__ = ["WEB_DIR", "mount_page", "router"]

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
router = APIRouter(prefix="/v1", tags=["planner page"], responses=ERROR_RESPONSES)
Id = Annotated[str, PathParam(min_length=1, max_length=200)]


def mount_page(app: FastAPI) -> None:
    """Serve the planner page at `/ui/` (and send `/` there)."""
    app.mount("/ui", StaticFiles(directory=WEB_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")


class MeOut(BaseModel):
    name: str
    role: str


@router.get("/me", response_model=MeOut)
def who_am_i(who: ErpDep) -> dict[str, str]:
    """The key's name and role (the page signs in with this)."""
    return {"name": who.name, "role": who.role}


class NodeOut(BaseModel):
    node_id: str
    parent_id: str | None
    channel: str | None
    region: str | None = Field(description="the node's top ancestor in the node table")


class NodesOut(BaseModel):
    nodes: list[NodeOut]


@router.get("/nodes", response_model=NodesOut)
def list_nodes(_who: ErpDep, service: ServiceDep) -> NodesOut:
    """Every node with its parent, channel and region (top ancestor)."""
    nodes = service.channel.nodes
    if nodes is None:
        return NodesOut(nodes=[])
    parent, channel = _node_maps(nodes)
    return NodesOut(nodes=[NodeOut(node_id=n, parent_id=parent[n], channel=channel[n],
                                   region=_root(n, parent)) for n in parent])


def _node_maps(nodes: pd.DataFrame) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """node_id -> parent_id and node_id -> channel (None where empty), in table order."""
    ids = nodes[NODE].astype(str).tolist()
    none = [None] * len(ids)
    parent = dict(zip(ids, _text(nodes[PARENT]) if PARENT in nodes else none, strict=True))
    channel = dict(zip(ids, _text(nodes[CHANNEL]) if CHANNEL in nodes else none, strict=True))
    return parent, channel


def _text(values: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) or str(v) == "" else str(v) for v in values]


def _root(node: str, parent: dict[str, str | None]) -> str | None:
    seen = {node}
    up = parent.get(node)
    if up is None:
        return None
    above = parent.get(up)
    while above is not None and up not in seen:
        seen.add(up)
        up, above = above, parent.get(above)
    return up


class SkuOut(BaseModel):
    sku: str
    series: int = Field(description="node x sku series the model forecasts")
    available: float | None = Field(description="central stock on record (null: none)")
    pack_size: int | None


class SkusOut(BaseModel):
    skus: list[SkuOut]


@router.get("/skus", response_model=SkusOut)
def list_skus(_who: ErpDep, model: ModelDep, service: ServiceDep) -> SkusOut:
    """Every sku the model forecasts, with its central stock on record."""
    out = []
    for sku in sorted(model.by_sku):
        available, pack = service.channel.central(sku)
        out.append(SkuOut(sku=sku, series=len(model.by_sku[sku]), available=available,
                          pack_size=pack))
    return SkusOut(skus=out)


class RecentIn(BaseModel):
    model_config = {"extra": "forbid"}
    series: list[SeriesKey] = Field(min_length=1, max_length=1000)
    periods: Count = Field(26, ge=2, le=260)


class RecentSeries(BaseModel):
    node_id: str
    sku: str
    dates: list[str]
    units: list[float | None] = Field(description="null: not reported in that period")


class RecentOut(BaseModel):
    series: list[RecentSeries]


def _rows(model: ServedModel, series: list[SeriesKey]) -> list[int]:
    rows, unknown = [], []
    for s in series:
        row = model.index.get((s.node_id, s.sku))
        if row is None:
            unknown.append(f"({s.node_id}, {s.sku})")
        else:
            rows.append(row)
    if unknown:
        raise ApiError(404, f"unknown series {', '.join(unknown[:20])}: the model has no "
                       "history of them.")
    return rows


@router.post("/series/recent", response_model=RecentOut)
def recent_sell_through(body: RecentIn, _who: ErpDep, model: ModelDep) -> RecentOut:
    """Units sold in each of the last `periods` periods up to the model's origin."""
    f = model.forecaster
    _rows(model, body.series)
    grid = pd.DatetimeIndex([f.origin - k * (f.dates[0] - f.origin)
                             for k in range(body.periods - 1, -1, -1)]) \
        if not is_monthly(f.freq) else \
        pd.date_range(end=f.origin, periods=body.periods, freq="MS")
    tail = f.tail
    wanted = pd.MultiIndex.from_tuples([(s.node_id, s.sku) for s in body.series])
    part = tail[pd.MultiIndex.from_frame(tail[[NODE, ITEM]]).isin(wanted)
                & tail[DATE].isin(grid)]
    table = part.pivot_table(index=[NODE, ITEM], columns=DATE, values=UNITS, aggfunc="sum")
    table = table.reindex(index=wanted, columns=grid)
    dates = [f"{d:%Y-%m-%d}" for d in grid]
    return RecentOut(series=[
        RecentSeries(node_id=n, sku=s, dates=dates,
                     units=[None if math.isnan(v) else float(v) for v in values])
        for (n, s), values in zip(wanted, table.to_numpy(), strict=True)])


class HistoryPoint(BaseModel):
    date: str
    units: float | None
    on_hand: float | None
    promo: bool
    stockout: bool = Field(description="nothing on hand at the period's end: demand censored")


class SeriesOut(BaseModel):
    node_id: str
    sku: str
    channel: str | None
    region: str | None
    demand_class: str | None
    model: str = Field(description="the model (or blend) that serves this series")
    model_version: str | None
    origin: str
    period: str = Field(description="week, day or month")
    backtest: dict[str, float | int | str | None] = Field(
        description="the served model's out-of-sample error before the origin")
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]


@router.get("/series/{node_id}/{sku}", response_model=SeriesOut)
def one_series(node_id: Id, sku: Id, _who: ErpDep, model: ModelDep, service: ServiceDep,
               history: int = 52) -> SeriesOut:
    """History (with stock-outs and promotions) and forecast with its 80% band."""
    if not 1 <= history <= 520:
        raise ApiError(422, "`history` must be in 1..520 periods.",
                       errors=[{"loc": ["query", "history"], "msg": "must be in 1..520",
                                "type": "range"}])
    f = model.forecaster
    row = _rows(model, [SeriesKey(node_id=node_id, sku=sku)])[0]
    tail = f.tail
    mine = tail[(tail[NODE] == node_id) & (tail[ITEM] == sku)].sort_values(DATE).tail(history)
    points = []
    for rec in mine.to_dict("records"):
        on_hand = _num(rec.get(ON_HAND))
        points.append(HistoryPoint(date=f"{rec[DATE]:%Y-%m-%d}", units=_num(rec[UNITS]),
                                   on_hand=on_hand, promo=bool(_num(rec.get(PROMO)) or 0),
                                   stockout=on_hand is not None and on_hand <= 0))
    fc = f.predict(pd.DataFrame({NODE: [node_id], ITEM: [sku]}), quantiles=(0.1, 0.9),
                   model=served_model(f))
    forecast = band_points(fc[DATE], fc["mean"], fc["q0.1"], fc["q0.9"])
    errors: dict[str, float | int | str | None] = {}
    if f.errors is not None:
        rec = f.errors.iloc[row].to_dict()
        errors = {k: (_num(v) if k != "model" else str(v)) for k, v in rec.items()}
    channel, region = _node_facts(service, node_id)
    return SeriesOut(node_id=node_id, sku=sku, channel=channel, region=region,
                     demand_class=str(f.classes[row]), model=str(fc["model"].iloc[0]),
                     model_version=model.version, origin=f"{f.origin:%Y-%m-%d}",
                     period=period_word(f.freq), backtest=errors,
                     history=points, forecast=forecast)


def _node_facts(service: ServiceDep, node_id: str) -> tuple[str | None, str | None]:
    """The node's channel and region (None where unknown)."""
    nodes = service.channel.nodes
    if nodes is None:
        return None, None
    parent, channel = _node_maps(nodes)
    return channel.get(node_id), _root(node_id, parent)


def _num(value: SupportsFloat | str | None) -> float | None:
    """`value` as a finite number, else None (missing, NaN, inf, not a number)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class PreviewIn(BaseModel):
    model_config = {"extra": "forbid"}
    lines: dict[BodyId, Units] = Field(description="node_id -> units to allocate (every "
                                       "line not named keeps its current quantity)")


class PreviewLine(BaseModel):
    node_id: str
    allocated: float
    position_after: float
    p_stockout_after: float
    bound: str = Field(description="what stopped the line; `override` where the quantity "
                       "differs from the allocation's")
    reason: str = Field(description="the line in words, for the quantity previewed")


class PreviewOut(BaseModel):
    allocation_id: int
    allocated: float
    available: float
    lines: list[PreviewLine]


@router.post("/allocations/{allocation_id}/preview", response_model=PreviewOut)
def preview_allocation(allocation_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
                       body: PreviewIn, who: PlannerDep, model: ModelDep,
                       service: ServiceDep) -> PreviewOut:
    """The stock-out probability and explanation of each line for edited quantities, before
    committing them: the same demand over the protection interval as the proposal (from the
    model serving now). Nothing is recorded."""
    with service.db.session() as session:
        row = session.scalar(select(AllocationRow).where(AllocationRow.id == allocation_id))
        if row is None:
            raise ApiError(404, f"allocation {allocation_id} does not exist.")
        lines, sku, policy = list(row.lines), row.sku, row.policy
        available = float(row.available)
    known = {line["node_id"] for line in lines}
    unknown = sorted(set(body.lines) - known)
    if unknown:
        raise ApiError(404, f"node(s) {', '.join(map(repr, unknown[:20]))} have no line in "
                       f"allocation {allocation_id}.")
    bad = [n for n, q in body.lines.items() if not (math.isfinite(q) and q >= 0)]
    if bad:
        raise ApiError(422, f"line quantities must be numbers >= 0; got {bad[:5]}.",
                       errors=[{"loc": ["body", "lines", n], "msg": "must be >= 0",
                                "type": "range"} for n in bad[:100]])
    qty = np.array([float(body.lines.get(line["node_id"], line["allocated"])) for line in lines])
    position = np.array([float(line["position_before"]) for line in lines])
    p_after = _stockout(model, service, sku, policy, [line["node_id"] for line in lines],
                        position, position + qty)
    return PreviewOut(allocation_id=allocation_id, allocated=float(qty.sum()),
                      available=available,
                      lines=[_previewed(line, float(q), float(s), who.name)
                             for line, q, s in zip(lines, qty, p_after, strict=True)])


def _previewed(line: Mapping[str, object], qty: float, p_after: float, by: str) -> PreviewLine:
    """One preview line: a changed quantity gets `override` and an explanation of it."""
    changed = abs(qty - _float(line["allocated"])) > 1e-9
    return PreviewLine(node_id=str(line["node_id"]), allocated=qty,
                       position_after=_float(line["position_before"]) + qty,
                       p_stockout_after=p_after,
                       bound="override" if changed else str(line["bound"]),
                       reason=(edited_reason(line, qty, p_after, by=by) if changed
                               else str(line["reason"])))


def _float(value: object) -> float:
    """A number of a stored allocation line (JSON: int or float)."""
    if not isinstance(value, int | float):
        raise TypeError(f"stored allocation line holds {value!r} where a number belongs")
    return float(value)


def _stockout(model: ServedModel, service: ServiceDep, sku: str, policy: str,
              node_ids: list[str], before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """P(demand the stock can serve > position after) per line, as the allocation computes
    it (a node without a forecast of the sku has no demand: 0)."""
    out = np.zeros(len(node_ids))
    demand = (allocation_demand(model, service.channel, sku, policy)
              if model.cache is not None else None)  # the proposal's (serving.decisions)
    if demand is None:
        return out
    where = pd.Index(demand.keys[NODE].astype(str)).get_indexer(node_ids)
    have = where >= 0
    if have.any():
        part = demand.take(where[have])
        out[have] = part.served(before[have]).sf(after[have])
    return out
