"""The efficient frontier of each policy: fill rate against average total stock as its own
service knob is swept (`training.policy.deciders`: channelcast's fill quantile, fair share's
cover multiple), on the same forecasts and replay as the policy table.

A policy whose frontier lies above another's sells more for the same stock at every point
of the sweep. `compare_frontiers` checks that: for every point of a fair-share sweep, the
fill rate channelcast reaches with the same average total stock (linear interpolation on the
upper envelope of its own points; points of the other policy holding less stock than any of
channelcast's are not comparable and are counted apart).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.policy.backtest import PolicyBacktestConfig, PolicyForecasts, replay_setup
from training.policy.deciders import decider
from training.policy.money import money_columns
from training.policy.sim import simulate
from training.policy.table import FAIR_SHARE, outcome_row

__all__ = ["CHANNELCAST_QUANTILES", "COVER_MULTIPLES", "compare_frontiers", "run_frontier"]

FloatArray = npt.NDArray[np.float64]
CHANNELCAST_QUANTILES: tuple[float | None, ...] = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99,
                                                   None)
"""channelcast's sweep: the quantile of interval demand a node is filled to (None: no cap)."""
COVER_MULTIPLES: tuple[float | None, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, None)
"""Fair share's sweep: the most cover (x its basis over the interval); None: no cap."""


def run_frontier(forecasts: PolicyForecasts, *, nodes: pd.DataFrame,
                 config: PolicyBacktestConfig, pack_sizes: pd.Series | None = None,
                 knobs: Mapping[str, Sequence[float | None]] | None = None) -> pd.DataFrame:
    """One row per scarcity x policy x knob (`knob` NaN = uncapped), with the policy table's
    columns (`outcome_row`, money); `knobs` per policy default to the module's sweeps."""
    f = forecasts
    setup = replay_setup(f, nodes=nodes, config=config, pack_sizes=pack_sizes)
    sweeps = dict(knobs) if knobs is not None else {
        p: CHANNELCAST_QUANTILES if p == "channelcast" else COVER_MULTIPLES
        for p in ("channelcast", *FAIR_SHARE)}
    rows = []
    for share in config.scarcity:
        inputs = setup.sim_inputs(share, f.review, f.lead)
        for policy, values in sweeps.items():
            for knob in values:
                began = time.perf_counter()
                outcome = simulate(inputs, decide=decider(policy, setup.policy, knob=knob))
                row = outcome_row(share, policy, outcome, time.perf_counter() - began)
                row |= money_columns(outcome, setup.money, holding_rate=config.holding_rate)
                row["knob"] = np.nan if knob is None else float(knob)
                row["supply"] = config.supply
                rows.append(row)
    return pd.DataFrame(rows)


def compare_frontiers(frontier: pd.DataFrame, *, stock: str = "avg_total_stock",
                      ours: str = "channelcast") -> pd.DataFrame:
    """Per supply, scarcity and other policy: how many of its sweep's points lie above our
    frontier (`above`, with the largest fill-rate excess `worst`), below it, or hold less
    stock than any of ours (`outside`)."""
    keys = [k for k in ("supply", "scarcity") if k in frontier]
    out = []
    for key, rows in frontier.groupby(keys, sort=False):
        mine = rows[rows["policy"] == ours]
        xs, ys = _envelope(mine[stock].to_numpy(np.float64),
                           mine["fill_rate"].to_numpy(np.float64))
        for other, theirs in rows[rows["policy"] != ours].groupby("policy", sort=False):
            s = theirs[stock].to_numpy(np.float64)
            fill = theirs["fill_rate"].to_numpy(np.float64)
            inside = s >= xs[0] if xs.size else np.zeros(len(s), bool)
            ahead = fill - np.interp(s, xs, ys) if xs.size else np.full(len(s), np.nan)
            above = inside & (ahead > 1e-9)
            out.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                        "policy": other, "points": len(s), "above": int(above.sum()),
                        "below": int((inside & ~above).sum()), "outside": int((~inside).sum()),
                        "worst": float(ahead[inside].max()) if inside.any() else np.nan})
    return pd.DataFrame(out)


def _envelope(stock: FloatArray, fill: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The upper envelope of (stock, fill) points: sorted by stock, the best fill so far."""
    order = np.argsort(stock, kind="stable")
    xs, ys = stock[order], np.maximum.accumulate(fill[order]) if len(fill) else fill
    return xs, ys
