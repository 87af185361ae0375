"""The pooled means in the product: the replay's factor and allocation, the product's gate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import models.allocation.pooled as shared
import training.policy.pooled as replay
import training.policy.served as product
from features.engineering.history import Panel
from features.schema import ITEM, NODE
from features.synthetic import generate_channel_data
from models.allocation import AllocationRequest, allocate_all
from models.allocation.override import line_records
from models.allocation.planned import DEMAND_SOURCE, with_demand_source
from models.demand_interval import protection_periods
from tests.training.policy.conftest import Small
from training.engine.calibration import EMPTY_CALIBRATION
from training.engine.forecast import Forecaster, fit_forecaster
from training.policy.backtest import PolicyBacktestConfig, replay_setup
from training.policy.deciders import decider
from training.policy.pooled import pooled_scale
from training.policy.served import (
    PooledGate,
    history_demand,
    history_panel,
    pooled_gate,
    product_demand,
    served_factor,
)

ON = PooledGate(used=True, model_error=2.0, pooled_error=1.0, windows=3)


def _upto(panel: Panel, t: int) -> Panel:
    """The panel as known before grid period `t`."""
    return replace(panel, units=panel.units[:, :t], censored=panel.censored[:, :t])


def _on_windows(small: Small) -> tuple[np.ndarray, np.ndarray]:
    f, _, _ = small
    group = pd.factorize(f.panel.keys[ITEM].astype(str))[0].astype(np.int64)
    scale = pooled_scale(f.panel, f.means, start=f.start, interval=f.interval, group=group)
    return scale, np.flatnonzero((scale != 1.0).any(axis=1))


def test_product_factor_is_the_replays_where_its_gate_is_on(small: Small) -> None:
    f, nodes, packs = small
    scale, on = _on_windows(small)
    assert on.size > 0
    config = PolicyBacktestConfig(start=f.start, models=("ma", "tsb", "auto"),
                                  planned_promotions=False)
    dists = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs).policy.dists
    for i in on[:3]:
        factor = served_factor(dists[i], _upto(f.panel, f.start + i), gate=ON)
        np.testing.assert_allclose(factor, scale[i], rtol=1e-12)
        off = served_factor(dists[i], _upto(f.panel, f.start + i),
                            gate=replace(ON, used=False))
        assert np.all(off == 1.0)


def test_product_allocation_equals_the_replays_pooled_channelcast(small: Small) -> None:
    f, nodes, packs = small
    _, on = _on_windows(small)
    config = PolicyBacktestConfig(start=f.start, models=("ma", "tsb", "auto"),
                                  planned_promotions=False)
    policy = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs).policy
    keys = f.panel.keys[[NODE, ITEM]].astype(str).reset_index(drop=True)
    skus = pd.Index(pd.factorize(keys[ITEM])[1])
    flat = nodes.assign(priority=1).drop(columns=["capacity"], errors="ignore")
    i = int(on[-1])
    position = np.random.default_rng(i).integers(0, 6, len(keys)).astype(np.float64)
    central = np.array([3.0 * packs.get(s, 1) for s in skus])
    ship = decider("channelcast", policy)(i, position, central)
    demand, moved = product_demand(policy.dists[i], panel=_upto(f.panel, f.start + i), gate=ON)
    assert len(moved) > 0
    inventory = keys.assign(on_hand=position, in_transit=0.0)
    for g, sku in enumerate(skus):
        request = AllocationRequest(sku=sku, available=float(central[g]),
                                    pack_size=int(packs.get(sku, 1)), objective="units")
        table = allocate_all(demand, requests=[request], nodes=flat, inventory=inventory)
        rows = np.flatnonzero(keys[ITEM] == sku)
        got = table.set_index(NODE)["allocated"].reindex(keys[NODE][rows]).to_numpy()
        np.testing.assert_array_equal(got, ship[rows])


@pytest.fixture(scope="module")
def fitted() -> tuple[Forecaster, pd.DataFrame, pd.DataFrame]:
    """A forecaster, its history and nodes whose protection intervals are 2-4 whole weeks."""
    data = generate_channel_data(nodes=4, skus=3, periods=70, freq="W", seed=5)
    nodes = data.nodes.assign(lead_time_days=7 * (1 + np.arange(len(data.nodes)) % 3),
                              review_period_days=7)
    f = fit_forecaster(data.sell_through, freq="W-MON", horizon=4, nodes=nodes,
                       models=("ma",))
    return f, data.sell_through, nodes


def _recorded(f: Forecaster, panel: Panel) -> np.ndarray:
    """The recorded sales of the calibration windows, laid out like `f.calibration.means`."""
    at = pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str)).get_indexer(
        pd.MultiIndex.from_frame(f.keys[[NODE, ITEM]].astype(str)))
    seen = panel.dates.get_indexer(f.calibration.cutoffs) + 1
    return np.stack([np.nan_to_num(panel.units[at, t:t + f.horizon]) for t in seen], axis=1)


def _with_forecasts(f: Forecaster, means: np.ndarray) -> Forecaster:
    return replace(f, calibration=replace(f.calibration, means=means.astype(np.float32)))


def test_gate_compares_the_half_way_means_with_the_calibration_forecasts(
        fitted: tuple[Forecaster, pd.DataFrame, pd.DataFrame]) -> None:
    f, history, nodes = fitted
    panel = history_panel(history, freq=f.freq, origin=f.origin)
    gate = pooled_gate(f, panel, nodes=nodes)
    assert gate.windows == 3 and gate.intervals > 0
    assert gate.pooled_error > 0 and gate.model_error > 0
    assert gate.used == (gate.pooled_error < gate.model_error)
    actual = _recorded(f, panel)
    worse = _with_forecasts(f, actual + 100.0)
    assert pooled_gate(worse, panel, nodes=nodes).used  # a model that erred more: pooled
    exact = _with_forecasts(f, actual)
    assert not pooled_gate(exact, panel, nodes=nodes).used  # a model that was exact: kept
    old = replace(f, calibration=EMPTY_CALIBRATION)  # pickled before calibration was kept
    assert pooled_gate(old, panel, nodes=nodes) is shared.NO_EVIDENCE


def _replay_on_product_evidence(f: Forecaster, panel: Panel, nodes: pd.DataFrame) -> bool:
    """The replay's gate at the forecaster's origin, its windows `h` apart before it being
    the calibration windows' forecasts, as the product sees them."""
    h, n = f.horizon, panel.n_periods
    start = n - shared.CALIBRATION_WINDOWS * h
    at = pd.MultiIndex.from_frame(f.keys[[NODE, ITEM]].astype(str)).get_indexer(
        pd.MultiIndex.from_frame(panel.keys[[NODE, ITEM]].astype(str)))
    means = np.ones((shared.CALIBRATION_WINDOWS * h + 1, panel.n_series, h))
    for k in range(shared.CALIBRATION_WINDOWS):
        means[k * h] = f.calibration.means[at, k]
    interval = panel.keys[NODE].map(protection_periods(nodes, freq=f.freq)).to_numpy()
    group = pd.factorize(panel.keys[ITEM].astype(str))[0].astype(np.int64)
    scale = pooled_scale(panel, means, start=start, interval=interval.astype(np.int64),
                         group=group, windows=shared.CALIBRATION_WINDOWS)
    assert np.all(scale[:-1] == 1.0)  # no calibration windows before the last week
    return bool((scale[-1] != 1.0).any())


def test_replay_and_product_share_one_gate_and_decide_alike(
        fitted: tuple[Forecaster, pd.DataFrame, pd.DataFrame]) -> None:
    assert replay.pooled_gate_on is product.pooled_gate_on is shared.pooled_gate_on
    assert replay.interval_evidence is product.interval_evidence is shared.interval_evidence
    f, history, nodes = fitted
    panel = history_panel(history, freq=f.freq, origin=f.origin)
    actual = _recorded(f, panel)
    decisions = []
    # exact forecasts, the model's own, and 100 more everywhere (each sku's split flattened)
    for means in (actual, f.calibration.means, actual + 100.0):
        served = _with_forecasts(f, means)
        used = pooled_gate(served, panel, nodes=nodes).used
        assert _replay_on_product_evidence(served, panel, nodes) == used
        decisions.append(used)
    assert decisions[0] is False and decisions[-1] is True


def test_lines_say_when_the_pooled_mean_was_used() -> None:
    table = pd.DataFrame({NODE: ["A", "B"], ITEM: "S", "priority": 1, "allocated": [6.0, 0],
                          "packs": [1, 0], "demand_mean": 5.0, "demand_q0.9": 8.0,
                          "on_hand": 0.0, "in_transit": 0.0, "position_before": 0.0,
                          "position_after": [6.0, 0.0], "p_stockout_before": 0.5,
                          "p_stockout_after": 0.2, "bound": "demand"})
    marked = with_demand_source(table, pd.DataFrame({NODE: ["A"], ITEM: ["S"]}))
    assert marked[DEMAND_SOURCE].tolist() == ["pooled", "forecast"]
    lines = line_records(marked)
    assert "pooled rate" in lines[0]["reason"] and "pooled rate" not in lines[1]["reason"]


def test_fair_share_keeps_the_forecasts(small: Small) -> None:
    f, nodes, packs = small
    config = PolicyBacktestConfig(start=f.start, models=("ma", "tsb", "auto"))
    dist = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs).policy.dists[0]
    same, moved = history_demand(dist, policy="fair_share_forecast", history=pd.DataFrame(),
                                 freq="W-MON", forecaster=None, nodes=nodes)
    assert same is dist and len(moved) == 0
