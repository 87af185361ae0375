"""A small replay's forecasts, shared by the policy backtest's tests."""

from __future__ import annotations

import pandas as pd
import pytest

from features.synthetic import generate_channel_data
from training.policy.backtest import PolicyBacktestConfig, PolicyForecasts, policy_forecasts

Small = tuple[PolicyForecasts, pd.DataFrame, pd.Series]
"""Forecasts of a 5-node x 4-sku channel replayed from week 40, its nodes and pack sizes."""


@pytest.fixture(scope="module")
def small() -> Small:
    data = generate_channel_data(nodes=5, skus=4, periods=60, freq="W", seed=2)
    truth = data.truth.rename(columns={"demand": "units"})[["date", "node_id", "sku", "units"]]
    config = PolicyBacktestConfig(start=40, models=("ma", "tsb", "auto"))
    freq = pd.infer_freq(pd.DatetimeIndex(sorted(data.sell_through["date"].unique())))
    forecasts = policy_forecasts(data.sell_through, freq=str(freq), nodes=data.nodes,
                                 config=config, demand=truth)
    return forecasts, data.nodes, data.central_stock.set_index("sku")["pack_size"]
