"""`channelcast policy-backtest`: replay history under scarce supply with each allocation
policy and compare fill rate, lost sales and stock held (`training.policy`).

Prints the protection-interval coverage check and the policy table, with the `oracle`
(perfect foresight) as the ceiling, each policy's share of the headroom over the best fair
share (fill rate and money cost) and the money columns (lost margin at `--margin-rate` x price
unless the data has a `margin` column, holding cost at `--holding-rate` per period of the
stock's value); `--out FILE.csv` writes the table. Exit codes: 0 ok, 2 bad input (with a
message naming the cause).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from channelcast.args import add_partial_arguments, load_folder, write_table
from features.contract.datasets import load_walmart
from features.contract.errors import DataContractError
from features.schema import ITEM, NODE, PACK_SIZE
from models.allocation import OBJECTIVES
from models.errors import InfeasibleAllocationError, UnknownNodeError
from training.engine.forecast import UnknownSeriesError
from training.policy.backtest import (
    CHEAP_MODELS,
    HOLDING_RATE,
    LGBM_REFIT_EVERY,
    MARGIN_RATE,
    PRODUCTION_MODELS,
    SUPPLY_MODES,
    PolicyBacktestConfig,
    policy_forecasts,
    run_policy_backtest,
)
from training.policy.interval_check import check_intervals

__all__ = ["add_parser"]

_BAD_INPUT = (ValueError, KeyError, DataContractError, OSError, InfeasibleAllocationError,
              UnknownNodeError, UnknownSeriesError)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `policy-backtest`."""
    p = sub.add_parser("policy-backtest",
                       help="replay history under scarce supply with each allocation policy")
    p.add_argument("--data", type=Path, required=True, help="validated data folder, or a raw "
                   "walmart_store_dept folder (train.csv.zip)")
    p.add_argument("--scarcity", default="0.7,0.85,1.0", help="supply / demand shares")
    p.add_argument("--supply", choices=SUPPLY_MODES, default="demand",
                   help="central supply each period: `demand` = share x that period's "
                   "demand, `flat` = share x the mean over the replay (default demand)")
    p.add_argument("--start", type=int, default=60, help="first replayed period (default 60)")
    p.add_argument("--lead-periods", type=int, default=None,
                   help="lead time in periods for all nodes (default: nodes.csv)")
    p.add_argument("--review-periods", type=int, default=1, help="periods between allocations")
    p.add_argument("--models", default=",".join(PRODUCTION_MODELS),
                   help=f"backtest models (default: the production forecaster's, "
                   f"{','.join(PRODUCTION_MODELS)}; {','.join(CHEAP_MODELS)} is the fast set)")
    p.add_argument("--lgbm-refit-every", type=int, default=LGBM_REFIT_EVERY,
                   help="periods between LightGBM refits when --models has lgbm; the periods "
                   f"in between forecast with the last booster (default {LGBM_REFIT_EVERY})")
    p.add_argument("--tiers", action="store_true", help="use node priorities in channelcast")
    p.add_argument("--margin-rate", type=float, default=MARGIN_RATE,
                   help=f"unit margin as a share of price where the data has no `margin` "
                   f"column (default {MARGIN_RATE:g}; data without prices: a unit is worth 1)")
    p.add_argument("--holding-rate", type=float, default=HOLDING_RATE,
                   help=f"holding cost per period as a share of the stock's value (default "
                   f"0.25/52 = {HOLDING_RATE:.5f}: 25%% a year on weekly data)")
    p.add_argument("--objective", choices=OBJECTIVES, default="units",
                   help="channelcast's objective (default units: the replay charges stock kept "
                   "central as much as stock at a node, so profit would keep it for nothing)")
    p.add_argument("--planned-promotions", action=argparse.BooleanOptionalAction, default=True,
                   help="channelcast scales promoted periods by the forecasts' promotion lift "
                   "(default on; the history's promo column is the plan)")
    p.add_argument("--out", type=Path, default=None, help="write the table to this CSV")
    add_partial_arguments(p)
    p.set_defaults(handler=_run_policy_backtest)


def _run_policy_backtest(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    try:
        scarcity = tuple(float(s) for s in args.scarcity.split(",") if s.strip())
        if not scarcity or not all(0 < s <= 2 for s in scarcity):
            raise ValueError(f"`--scarcity` takes shares in (0, 2], e.g. 0.7,0.85,1.0; got "
                             f"{args.scarcity!r}.")
        history, nodes, freq, demand, packs = _policy_data(args.data, args)
        config = PolicyBacktestConfig(start=args.start, review_periods=args.review_periods,
                                      lead_periods=args.lead_periods, scarcity=scarcity,
                                      models=tuple(m.strip() for m in args.models.split(",")),
                                      tiers=args.tiers, supply=args.supply,
                                      lgbm_refit_every=args.lgbm_refit_every,
                                      margin_rate=args.margin_rate,
                                      holding_rate=args.holding_rate, objective=args.objective,
                                      planned_promotions=args.planned_promotions)
        forecasts = policy_forecasts(history, freq=freq, nodes=nodes, config=config,
                                     demand=demand, progress=not args.quiet)
        check = check_intervals(forecasts)
        table = run_policy_backtest(forecasts, nodes=nodes, config=config, pack_sizes=packs,
                                    progress=not args.quiet)
    except _BAD_INPUT as exc:
        print(f"cannot run the policy backtest: {exc}")
        return 2
    print(f"protection-interval coverage (correlation chosen on the first half: "
          f"{check.correlation:g}; the replay uses {config.correlation:g}):")
    print(check.table.round(3).to_string(index=False))
    print(f"\npolicy table ({forecasts.means.shape[0]} replayed periods, demand from "
          f"{'truth.parquet' if demand is not None else 'recorded sales'}, backtest "
          f"{forecasts.seconds:.0f} s, total {time.perf_counter() - began:.0f} s):")
    print(table.round(4).to_string(index=False))
    write_table(table, args.out)
    return 0


def _policy_data(path: Path, args: argparse.Namespace
                 ) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame | None,
                            pd.Series | None]:
    """History, nodes, freq, true demand (truth.parquet, if any) and pack sizes of a folder."""
    if (path / "train.csv.zip").exists():  # the raw walmart_store_dept folder
        data = load_walmart(path)
        return data.sell_through, data.nodes, data.freq, None, None
    report = load_folder(path, args)
    tables = report.tables
    demand = None
    if (path / "truth.parquet").exists():
        demand = pd.read_parquet(path / "truth.parquet")[["date", NODE, ITEM, "demand"]]
        demand = demand.rename(columns={"demand": "units"})
    central = tables.get("central_stock")
    packs = (central.set_index(central[ITEM].astype(str))[PACK_SIZE].fillna(1)
             if central is not None and PACK_SIZE in central else None)
    return tables["sell_through"], tables["nodes"], str(report.freq), demand, packs
