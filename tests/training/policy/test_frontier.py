"""Efficient frontiers: each policy over its service knob; where one frontier lies above."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.training.policy.conftest import Small
from training.policy.backtest import PolicyBacktestConfig, replay_setup
from training.policy.deciders import decider
from training.policy.frontier import compare_frontiers, run_frontier


def test_a_lower_knob_keeps_stock_central(small: Small) -> None:
    forecasts, nodes, packs = small
    config = PolicyBacktestConfig(start=40, scarcity=(1.0,))
    sweep = run_frontier(forecasts, nodes=nodes, config=config, pack_sizes=packs,
                         knobs={"channelcast": (0.5, None), "fair_share_forecast": (0.5, None)})
    assert len(sweep) == 4 and set(sweep["supply"]) == {"demand"}
    for _, rows in sweep.groupby("policy"):
        capped, free = rows[rows["knob"] == 0.5].iloc[0], rows[rows["knob"].isna()].iloc[0]
        assert capped["avg_central_stock"] > free["avg_central_stock"]
        assert capped["avg_node_stock"] < free["avg_node_stock"]
        assert capped["fill_rate"] <= free["fill_rate"] + 1e-12


def test_knobs_are_checked(small: Small) -> None:
    forecasts, nodes, packs = small
    setup = replay_setup(forecasts, nodes=nodes, config=PolicyBacktestConfig(start=40))
    with pytest.raises(ValueError, match="quantile in \\(0, 1\\)"):
        decider("channelcast", setup.policy, knob=1.5)
    with pytest.raises(ValueError, match="must be > 0"):
        decider("fair_share_sales", setup.policy, knob=0.0)


def test_compare_frontiers_counts_points_above_and_outside() -> None:
    sweep = pd.DataFrame({
        "scarcity": 1.0, "policy": ["channelcast"] * 2 + ["fair_share_forecast"] * 3,
        "avg_total_stock": [10.0, 20.0, 5.0, 15.0, 30.0],
        "fill_rate": [0.8, 0.9, 0.7, 0.86, 0.95]})
    out = compare_frontiers(sweep).iloc[0]
    # 5 holds less than any of ours; 15 -> ours 0.85 < 0.86 (above); 30 -> ours 0.9 < 0.95
    assert (out["outside"], out["above"], out["below"]) == (1, 2, 0)
    assert out["worst"] == pytest.approx(0.05)
    sweep.loc[4, "fill_rate"] = 0.5
    sweep.loc[3, "fill_rate"] = 0.84
    out = compare_frontiers(sweep).iloc[0]
    assert (out["above"], out["below"]) == (0, 2) and np.isclose(out["worst"], -0.01)
