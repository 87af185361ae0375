"""`channelcast allocate` and `channelcast risk`: the decisions (`policy-backtest`: cmd_policy).

Each prints a readable table (the reason for every allocation line); `--out FILE.csv` writes
every column. Exit codes: 0 ok, 2 bad input (a message naming the cause; never a traceback).
`demo_decisions` is what `channelcast demo` shows: one allocation and the top of the risk list.
channelcast allocates as the policy backtest replays it (`training.policy.served`).

`allocate` and `risk` decide with the registered champion (`models:/channelcast-demand@champion`
in training's tracking store, as the demo and the service do) when it knows the folder (every
series, the same grid, origin at the folder's last period), else fit `--models` on it now; the
line before the numbers names the model. A `--model-uri` that does not fit is an error.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from channelcast.args import add_partial_arguments, load_folder, write_table
from features.contract.errors import DataContractError
from features.contract.validation import load_validated
from features.periods import same_freq
from features.schema import AVAILABLE, DATE, ITEM, NODE, PACK_SIZE
from models.allocation import (
    COLUMNS,
    HOLDING_RATE,
    MARGIN_RATE,
    OBJECTIVES,
    POLICIES,
    AllocationConfig,
    AllocationRequest,
    allocate_all,
    priced,
    recent_sales_rate,
)
from models.allocation.planned import DEMAND_SOURCE, with_demand_source
from models.demand_interval import (
    DEFAULT_LEVELS,
    interval_demand,
    lead_periods,
    protection_periods,
)
from models.errors import InfeasibleAllocationError, UnknownNodeError
from models.risk import last_prices, stock_risk
from training.engine.forecast import Forecaster, UnknownSeriesError, fit_forecaster
from training.policy.backtest import CHEAP_MODELS
from training.policy.served import history_demand
from training.tracking.pyfunc import served_model
from training.tracking.registry import CHAMPION, alias_version, client_for
from training.tracking.settings import StoreSettings, store_settings

if TYPE_CHECKING:
    from serving.model_store import ServedModel

__all__ = ["add_parser", "allocation_table", "demo_decisions", "format_allocation",
           "format_risk", "model_forecast"]

_BAD_INPUT = (ValueError, KeyError, DataContractError, OSError, MlflowException,
              InfeasibleAllocationError, UnknownNodeError, UnknownSeriesError)
_SHOWN = ["node_id", "priority", "allocated", "demand_mean", "demand_q0.9", "position_before",
          "position_after", "p_stockout_before", "p_stockout_after", "bound", DEMAND_SOURCE]
_RISK_SHOWN = ["node_id", "sku", "position", "demand_mean", "p_stockout", "expected_lost_units",
               "expected_lost_value", "weeks_of_cover", "p_excess", "risk_class"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `allocate` and `risk`."""
    a = sub.add_parser("allocate", help="split an sku's central stock across nodes, explained")
    _common(a)
    a.add_argument("--sku", required=True, help="the item to allocate")
    a.add_argument("--available", type=float, default=None,
                   help="units to split (default: central_stock.csv)")
    a.add_argument("--pack-size", type=int, default=None,
                   help="units per pack (default: central_stock.csv, else 1)")
    a.add_argument("--policy", choices=POLICIES, default="channelcast")
    a.add_argument("--objective", choices=OBJECTIVES, default="profit",
                   help="profit: keep packs central whose expected margin is below their "
                   "holding cost at every node (needs prices); units: allocate everything")
    a.add_argument("--margin-rate", type=float, default=MARGIN_RATE,
                   help=f"unit margin as a share of the sku's price (default {MARGIN_RATE:g})")
    a.add_argument("--holding-rate", type=float, default=HOLDING_RATE, help="holding cost "
                   "per period as a share of the price (default 0.25/52: 25%% a year, weekly)")
    a.add_argument("--exclude", default="", help="comma-separated node_ids that get nothing")
    a.add_argument("--min", default="", help="per-node minimums, e.g. DLR-01=6,DLR-02=12")
    a.add_argument("--max", default="", help="per-node maximums, e.g. WEB-01=100")
    a.add_argument("--service", type=float, default=0.9,
                   help="target service level per tier before the next tier (default 0.9)")
    a.set_defaults(handler=_run_allocate)
    r = sub.add_parser("risk", help="stock-out and excess risk per node x sku, ranked")
    _common(r)
    r.add_argument("--top", type=int, default=50, help="rows to print (default 50)")
    r.add_argument("--excess-weeks", type=float, default=8.0,
                   help="weeks of cover beyond which stock is excess (default 8)")
    r.set_defaults(handler=_run_risk)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="validated data folder")
    p.add_argument("--freq", default=None, help="W, D, M or W-MON... (default: inferred)")
    p.add_argument("--models", default=",".join(CHEAP_MODELS),
                   help=f"models fitted now when no registered model is used (default "
                   f"{','.join(CHEAP_MODELS)})")
    p.add_argument("--out", type=Path, default=None, help="write the full table to this CSV")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model-uri", default=None,
                        help="registered model to decide with (default: "
                        "models:/channelcast-demand@champion when it is registered and knows "
                        "the folder, else --models fitted now)")
    source.add_argument("--fit", action="store_true",
                        help="fit --models on the folder now even when a champion is registered")
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: "
                   "$MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the project folder)")
    add_partial_arguments(p)


def _load(args: argparse.Namespace) -> tuple[dict[str, pd.DataFrame], str]:
    report = load_folder(args.data, args, freq=args.freq)
    missing = [t for t in ("inventory",) if t not in report.tables]
    if missing:
        raise FileNotFoundError(f"{args.data} has no {missing[0]}.csv; decisions need each "
                                "node's stock (node_id, sku, on_hand, in_transit, as_of).")
    return report.tables, str(report.freq)


def _forecast(tables: dict[str, pd.DataFrame], freq: str, models: str,
              history: pd.DataFrame | None = None, progress: bool = False
              ) -> tuple[pd.DataFrame, Forecaster]:
    """Quantile forecasts over the longest protection interval of any node, and the model."""
    nodes = tables["nodes"]
    horizon = max(1, math.ceil(float(protection_periods(nodes, freq=freq).max())))
    sell = tables["sell_through"] if history is None else history
    forecaster = fit_forecaster(sell, freq=freq, horizon=horizon, nodes=nodes,
                                models=tuple(m.strip() for m in models.split(",")),
                                progress=progress)
    return forecaster.predict(quantiles=DEFAULT_LEVELS, model=forecaster.primary), forecaster


def model_forecast(forecaster: Forecaster, series: pd.DataFrame | None = None) -> pd.DataFrame:
    """A trained forecaster's decision forecasts, as the service makes them: its served model
    (`auto` when trained), `DEFAULT_LEVELS`, whole horizon; `series` (node_id, sku) or all."""
    return forecaster.predict(series, quantiles=DEFAULT_LEVELS, model=served_model(forecaster))


def _decision_forecast(args: argparse.Namespace, tables: dict[str, pd.DataFrame], freq: str,
                       history: pd.DataFrame) -> tuple[pd.DataFrame, str, Forecaster]:
    """The forecasts of `history`'s series a decision uses, the line naming the model that
    made them (the registered one when it fits the folder, else `--models` fitted now), it."""
    served, why = _registered_model(args, history, freq)
    if served is None:
        forecast, forecaster = _forecast(tables, freq, args.models, history=history,
                                         progress=not args.quiet)
        fitted = ", ".join(m.strip() for m in args.models.split(","))
        return forecast, f"model: fitted now: {fitted} ({why})", forecaster
    keys = history[[NODE, ITEM]].drop_duplicates().astype(str)
    return model_forecast(served.forecaster, keys), _describe(served), served.forecaster


def _describe(served: ServedModel) -> str:
    """`model: NAME version N (ALIAS, origin DATE)` for a registry model, else its URI."""
    origin = f"origin {served.forecaster.origin:%Y-%m-%d}"
    if served.name is None:
        return f"model: {served.uri} ({origin})"
    alias = served.uri.rpartition("@")[2] if "@" in served.uri else None
    return (f"model: {served.name} version {served.version} "
            f"({f'{alias}, ' if alias else ''}{origin})")


def _registered_model(args: argparse.Namespace, history: pd.DataFrame, freq: str
                      ) -> tuple[ServedModel | None, str]:
    """The registered model to decide with, or None and why the models are fitted now.

    Settings are read here (the entry point): `--tracking-uri`, else `$MLFLOW_TRACKING_URI`,
    else the project's store, as training and the demo resolve it. Raises ValueError when an
    explicit `--model-uri` does not fit the folder, MlflowException or OSError when it cannot
    be loaded."""
    if args.fit:
        return None, "--fit"
    store = store_settings(os.environ, tracking_uri=args.tracking_uri)
    uri = args.model_uri or f"models:/{store.model_name}@{CHAMPION}"
    if args.model_uri is None and not _has_champion(store):
        return None, f"no champion registered at {store.tracking_uri}"
    from serving.model_store import load_model  # the service's loader (imports the service)

    served = load_model(uri, tracking_uri=store.tracking_uri)
    mismatch = _mismatch(served.forecaster, history, freq, args.data)
    if mismatch is None:
        return served, ""
    name = (f"{served.name} version {served.version}" if served.name else uri)
    if args.model_uri is not None:
        raise ValueError(f"{uri} ({name}) does not fit {args.data}: {mismatch}; train on this "
                         "folder, or pass --fit to fit on it now.")
    return None, f"champion {name} does not fit {args.data}: {mismatch}"


def _has_champion(store: StoreSettings) -> bool:
    """Whether the store has a `champion` (a missing SQLite file is not created to ask)."""
    prefix = "sqlite:///"
    uri = store.tracking_uri
    if uri.startswith(prefix) and not uri.endswith(":memory:") \
            and not Path(uri[len(prefix):]).is_file():
        return False
    return alias_version(client_for(uri), store.model_name, CHAMPION) is not None


def _mismatch(forecaster: Forecaster, history: pd.DataFrame, freq: str, data: Path
              ) -> str | None:
    """Why `forecaster` cannot answer for `history` (unknown series, another period grid,
    another last period), or None when it can."""
    keys = history[[NODE, ITEM]].drop_duplicates().astype(str)
    known = pd.MultiIndex.from_frame(forecaster.keys[[NODE, ITEM]].astype(str))
    unknown = keys[~pd.MultiIndex.from_frame(keys).isin(known)]
    if len(unknown):
        first = unknown.iloc[0]
        return (f"{len(unknown):,} of the {len(keys):,} series are unknown to it (e.g. "
                f"node_id {first[NODE]}, sku {first[ITEM]})")
    if not same_freq(forecaster.freq, freq):
        return f"it forecasts on the {forecaster.freq} grid, {data} is on {freq}"
    last = pd.Timestamp(history[DATE].max())
    if last != forecaster.origin:
        return (f"its origin is {forecaster.origin:%Y-%m-%d}, the folder's last period "
                f"{last:%Y-%m-%d}")
    return None


def _pairs(text: str, flag: str) -> dict[str, float]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        node, sep, qty = item.partition("=")
        try:
            out[node.strip()] = float(qty)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"`{flag}` takes NODE=UNITS pairs, e.g. DLR-01=6; got {item!r}.")
    return out


def _request(args: argparse.Namespace, central: pd.DataFrame | None) -> AllocationRequest:
    row = (central[central[ITEM].astype(str) == args.sku] if central is not None
           else pd.DataFrame())
    available = args.available
    if available is None:
        if row.empty:
            raise ValueError(f"no central stock for sku {args.sku}: pass `--available` or add "
                             "it to central_stock.csv.")
        available = float(row[AVAILABLE].iloc[0])
    pack = args.pack_size
    if pack is None:
        pack = int(row[PACK_SIZE].iloc[0]) if not row.empty and PACK_SIZE in row and \
            pd.notna(row[PACK_SIZE].iloc[0]) else 1
    return AllocationRequest(sku=args.sku, available=available, pack_size=pack,
                             min_qty=_pairs(args.min, "--min"), max_qty=_pairs(args.max, "--max"),
                             exclude=tuple(filter(None, (n.strip() for n in
                                                         args.exclude.split(",")))),
                             objective=args.objective)


def allocation_table(tables: dict[str, pd.DataFrame], freq: str, forecast: pd.DataFrame,
                     request: AllocationRequest, *, policy: str = "channelcast",
                     config: AllocationConfig | None = None,
                     forecaster: Forecaster | None = None) -> pd.DataFrame:
    """The allocation of one request from loaded tables and a forecast frame; channelcast's
    pooled means need the `forecaster` that made it (`training.policy.served`)."""
    nodes = tables["nodes"]
    demand = interval_demand(forecast, periods=protection_periods(nodes, freq=freq),
                             lead=lead_periods(nodes, freq=freq))
    sales = (recent_sales_rate(tables["sell_through"]) if policy == "fair_share_sales"
             else None)
    demand, moved = history_demand(demand, policy=policy, history=tables.get("sell_through"),
                                   freq=freq, forecaster=forecaster, nodes=nodes)
    table = allocate_all(demand, requests=[request], nodes=nodes,
                         inventory=tables.get("inventory"), policy=policy,
                         config=config or AllocationConfig(), recent_sales=sales)
    return with_demand_source(table, moved)


def format_allocation(table: pd.DataFrame, request: AllocationRequest) -> str:
    """The printed allocation: the lines with their reasons, then a one-line summary."""
    shown = table[_SHOWN].copy()
    for c in ("p_stockout_before", "p_stockout_after"):
        shown[c] = (100 * shown[c]).round(0).astype(int).astype(str) + "%"
    body = shown.round(1).to_string(index=False)
    given = float(table["allocated"].sum())
    gained = int((table["allocated"] > 0).sum())
    return (f"{body}\n\nsku {request.sku}: {given:g} of {request.available:g} units allocated "
            f"(packs of {request.pack_size}) to {gained} of {len(table)} nodes, policy "
            f"{table['policy'].iloc[0]}, objective {_objective(request)}; bound = what "
            "stopped each line.")


def _objective(request: AllocationRequest) -> str:
    """The objective in words, with the money behind it."""
    if request.uses_profit:
        return (f"profit (margin {request.unit_margin:.4g}, holding {request.holding_cost:.4g} "
                "per unit per period)")
    return "units" + (" (no price known for profit)" if request.objective == "profit" else "")


def _run_allocate(args: argparse.Namespace) -> int:
    try:
        config = AllocationConfig(target_service=args.service)
        config.check()
        tables, freq = _load(args)
        sell = tables["sell_through"]
        request = priced(_request(args, tables.get("central_stock")), last_prices(sell),
                         margin_rate=args.margin_rate, holding_rate=args.holding_rate)
        request.check()
        history = sell[sell[ITEM].astype(str) == args.sku]
        if history.empty:
            raise UnknownNodeError(f"sku {args.sku} has no sell-through history in "
                                   f"{args.data}; check the sku.")
        forecast, model_line, forecaster = _decision_forecast(args, tables, freq, history)
        table = allocation_table(tables, freq, forecast, request, policy=args.policy,
                                 config=config, forecaster=forecaster)
    except _BAD_INPUT as exc:
        print(f"cannot allocate: {exc}")
        return 2
    print(model_line)
    print(format_allocation(table, request))
    write_table(table[[*COLUMNS, DEMAND_SOURCE, "policy"]], args.out)
    return 0


def _run_risk(args: argparse.Namespace) -> int:
    if args.top < 1:
        print(f"`--top` must be >= 1; got {args.top}.")
        return 2
    try:
        tables, freq = _load(args)
        forecast, model_line, _ = _decision_forecast(args, tables, freq, tables["sell_through"])
        table = stock_risk(forecast, nodes=tables["nodes"], inventory=tables["inventory"],
                           freq=freq, prices=last_prices(tables["sell_through"]),
                           excess_weeks=args.excess_weeks)
    except _BAD_INPUT as exc:
        print(f"cannot rank stock risk: {exc}")
        return 2
    print(model_line)
    print(format_risk(table, top=args.top))
    write_table(table, args.out)
    return 0


def format_risk(table: pd.DataFrame, *, top: int) -> str:
    """The printed risk list: the `top` rows by expected lost value, and counts per class."""
    shown = table[_RISK_SHOWN].head(top).copy()
    for c in ("p_stockout", "p_excess"):
        shown[c] = (100 * shown[c]).round(0).astype(int).astype(str) + "%"
    counts = table["risk_class"].value_counts().reindex(["critical", "high", "medium", "low"],
                                                        fill_value=0)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    return (f"{shown.round(1).to_string(index=False)}\n\n{len(table)} stocked node x sku "
            f"lines: {summary}; {int(table['excess'].sum())} with excess stock.")


def demo_decisions(data_dir: Path, forecaster: Forecaster, *, top: int = 10) -> str:
    """One allocation (the sku whose central stock is scarcest against its nodes' need,
    among those whose minimums the stock covers) and the top of the risk list, as text,
    from a forecaster fitted on `data_dir`'s history."""
    report = load_validated(data_dir)
    tables, freq = report.tables, str(report.freq)
    forecast = model_forecast(forecaster)
    central = tables.get("central_stock")
    if central is None or "inventory" not in tables:
        return "(no central_stock or inventory in the data: nothing to allocate)"
    prices = last_prices(tables["sell_through"])
    risk = stock_risk(forecast, nodes=tables["nodes"], inventory=tables["inventory"],
                      freq=freq, prices=prices)
    shown = f"stock risk, top {top}:\n{format_risk(risk, top=top)}"
    for sku in _by_scarcity(tables, freq, forecast, central):
        row = central[central[ITEM].astype(str) == sku].iloc[0]
        pack = row[PACK_SIZE] if PACK_SIZE in row and pd.notna(row[PACK_SIZE]) else 1
        request = priced(AllocationRequest(sku=sku, available=float(row[AVAILABLE]),
                                           pack_size=int(pack)), prices)
        try:
            table = allocation_table(tables, freq, forecast, request, forecaster=forecaster)
        except InfeasibleAllocationError:
            continue
        return f"allocation of {sku}:\n{format_allocation(table, request)}\n\n{shown}"
    return f"(no sku's minimums fit its central stock: nothing to allocate)\n\n{shown}"


def _by_scarcity(tables: dict[str, pd.DataFrame], freq: str, forecast: pd.DataFrame,
                 central: pd.DataFrame) -> list[str]:
    """Skus with stock, scarcest first: available units / (interval demand - stock held)."""
    demand = interval_demand(forecast, periods=protection_periods(tables["nodes"], freq=freq))
    need = pd.Series(demand.mean, index=demand.keys[ITEM].astype(str)).groupby(level=0).sum()
    inv = tables["inventory"]
    held = (inv["on_hand"] + inv["in_transit"]).groupby(inv[ITEM].astype(str)).sum()
    gap = (need - held.reindex(need.index).fillna(0)).clip(lower=1e-9)
    stock = central.set_index(central[ITEM].astype(str))[AVAILABLE]
    ratio = (stock / gap).replace([np.inf, -np.inf], np.nan).dropna()
    keep = (stock.reindex(ratio.index) > 0) & ratio.index.isin(held.index)
    return [str(s) for s in ratio[keep].sort_values().index]
