"""`channelcast allocate` runs the policy the policy backtest replays: same inputs, same lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from channelcast.cmd_decisions import allocation_table
from features.schema import ITEM, NODE, PRIORITY
from features.synthetic import generate_channel_data
from models.allocation import AllocationRequest
from models.demand_interval import DEFAULT_LEVELS
from models.quantiles import quantile_name
from training.policy.backtest import (
    PolicyBacktestConfig,
    PolicyForecasts,
    policy_forecasts,
    replay_setup,
)
from training.policy.deciders import decider

Replay = tuple[PolicyForecasts, pd.DataFrame, pd.Series]


@pytest.fixture(scope="module")
def replay() -> Replay:
    """A 5-node x 4-sku channel's replay forecasts from week 40, its nodes and pack sizes."""
    data = generate_channel_data(nodes=5, skus=4, periods=60, freq="W", seed=2)
    truth = data.truth.rename(columns={"demand": "units"})[["date", NODE, ITEM, "units"]]
    config = PolicyBacktestConfig(start=40, models=("ma", "tsb", "auto"))
    freq = pd.infer_freq(pd.DatetimeIndex(sorted(data.sell_through["date"].unique())))
    f = policy_forecasts(data.sell_through, freq=str(freq), nodes=data.nodes, config=config,
                         demand=truth)
    return f, data.nodes, data.central_stock.set_index(ITEM)["pack_size"]


def _product_inputs(f: PolicyForecasts, i: int, position: np.ndarray
                    ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The tables and forecast frame the product would see at replayed window `i`: nodes
    whose lead and review give the replay's intervals, the window's forecasts, positions."""
    keys = f.panel.keys[[NODE, ITEM]].astype(str).reset_index(drop=True)
    per_node = pd.DataFrame({NODE: keys[NODE], "lead": f.lead, "interval": f.interval})
    per_node = per_node.drop_duplicates(NODE)
    nodes = pd.DataFrame({NODE: per_node[NODE], "parent_id": "", "channel": "retail",
                          "lead_time_days": 7.0 * per_node["lead"],
                          "review_period_days": 7.0 * (per_node["interval"] - per_node["lead"]),
                          PRIORITY: 1})
    steps = f.steps[i]  # series x steps x levels
    n, h, _ = steps.shape
    frame = pd.DataFrame({NODE: np.repeat(keys[NODE], h), ITEM: np.repeat(keys[ITEM], h),
                          "step": np.tile(np.arange(1, h + 1), n),
                          "mean": f.means[i].reshape(-1)})
    for j, level in enumerate(DEFAULT_LEVELS):
        frame[quantile_name(level)] = steps[:, :, j].reshape(-1)
    inventory = pd.DataFrame({NODE: keys[NODE], ITEM: keys[ITEM], "on_hand": position,
                              "in_transit": 0.0, "as_of": pd.Timestamp("2024-01-01")})
    return {"nodes": nodes, "inventory": inventory}, frame


@pytest.mark.parametrize("window", [0, 7, 15])
def test_allocate_equals_the_replays_channelcast(replay: Replay, window: int) -> None:
    f, nodes, packs = replay
    config = PolicyBacktestConfig(start=f.start, models=("ma", "tsb", "auto"),
                                  planned_promotions=False, pooled_weight=0.0)
    setup = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs)
    assert setup.policy.channelcast_dists is not None  # the gamma ranking is on
    rng = np.random.default_rng(window)
    keys = f.panel.keys[[NODE, ITEM]].astype(str).reset_index(drop=True)
    position = rng.integers(0, 6, len(keys)).astype(np.float64)
    skus = pd.Index(pd.factorize(keys[ITEM])[1])
    central = np.array([3.0 * packs.get(s, 1) for s in skus])  # 3 packs of each sku
    ship = decider("channelcast", setup.policy)(window, position, central)
    assert ship.sum() > 0
    tables, frame = _product_inputs(f, window, position)
    for g, sku in enumerate(skus):
        request = AllocationRequest(sku=sku, available=float(central[g]),
                                    pack_size=int(packs.get(sku, 1)), objective="units")
        table = allocation_table(tables, "W-MON", frame, request)
        got = table.set_index(NODE)["allocated"]
        rows = np.flatnonzero(keys[ITEM] == sku)
        want = pd.Series(ship[rows], index=keys[NODE][rows].to_numpy())
        pd.testing.assert_series_equal(got.reindex(want.index).astype(float), want,
                                       check_names=False)
