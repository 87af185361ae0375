"""Stock risk: oracles on flat forecasts, ranking, classes and configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.demand_interval import DEFAULT_LEVELS
from models.risk import RiskThresholds, last_prices, risk_class, stock_risk
from tests.conftest import make_nodes


def flat_forecast(means: dict[str, float], steps: int = 8) -> pd.DataFrame:
    """Weekly forecast with demand per step U(0, 2m) at each node (sku S0)."""
    rows = []
    for node, m in means.items():
        for step in range(1, steps + 1):
            row = {"node_id": node, "sku": "S0", "step": step, "mean": m}
            row.update({f"q{q:g}": 2 * m * q for q in DEFAULT_LEVELS})
            rows.append(row)
    return pd.DataFrame(rows)


def stock(on_hand: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"node_id": list(on_hand), "sku": "S0",
                         "on_hand": list(on_hand.values()), "in_transit": 0.0,
                         "as_of": pd.Timestamp("2024-01-01")})


def test_oracle_on_a_flat_forecast() -> None:
    # N0: protection interval 2 weeks (7 + 7 days); comonotone steps: D = 2 U(0, 20)
    risk = stock_risk(flat_forecast({"N0": 10.0}), nodes=make_nodes(1),
                      inventory=stock({"N0": 10.0}), freq="W-MON")
    row = risk.iloc[0]
    assert row["p_stockout"] == pytest.approx(0.75, abs=1e-6)  # P(40 U > 10)
    assert row["demand_mean"] == pytest.approx(20.0)
    assert row["expected_lost_units"] == pytest.approx(20.0 - (10 - 100 / 80), abs=1e-6)
    assert row["weeks_of_cover"] == pytest.approx(1.0)
    assert row["p_excess"] == pytest.approx(10 / 160, abs=1e-6)  # 8 weeks: 160 U > 10
    assert row["risk_class"] == "critical" and not row["excess"]


def test_ranked_by_expected_lost_value_then_units() -> None:
    forecast = flat_forecast({"N0": 10.0, "N1": 10.0, "N2": 1.0})
    prices = pd.Series({("N0", "S0"): 1.0, ("N1", "S0"): 50.0})
    risk = stock_risk(forecast, nodes=make_nodes(3), inventory=stock({"N0": 0, "N1": 15, "N2": 0}),
                      freq="W-MON", prices=prices)
    assert risk["node_id"].tolist() == ["N1", "N0", "N2"]
    assert np.isnan(risk["expected_lost_value"].iloc[-1])


def test_overstocked_node_is_flagged_as_excess() -> None:
    risk = stock_risk(flat_forecast({"N0": 1.0}), nodes=make_nodes(1),
                      inventory=stock({"N0": 100.0}), freq="W-MON")
    row = risk.iloc[0]
    assert row["p_excess"] == pytest.approx(1.0) and row["excess"]
    assert row["risk_class"] == "low" and row["weeks_of_cover"] == pytest.approx(100.0)


def test_series_without_stock_records_are_left_out() -> None:
    risk = stock_risk(flat_forecast({"N0": 1.0, "N1": 1.0}), nodes=make_nodes(2),
                      inventory=stock({"N0": 1.0}), freq="W-MON")
    assert risk["node_id"].tolist() == ["N0"]


def test_no_demand_means_infinite_cover_and_no_risk() -> None:
    risk = stock_risk(flat_forecast({"N0": 0.0}), nodes=make_nodes(1),
                      inventory=stock({"N0": 3.0}), freq="W-MON")
    assert np.isinf(risk["weeks_of_cover"].iloc[0]) and risk["p_stockout"].iloc[0] == 0.0


def test_risk_classes_follow_configurable_thresholds() -> None:
    p = [0.6, 0.3, 0.12, 0.01]
    assert risk_class(p).tolist() == ["critical", "high", "medium", "low"]
    strict = RiskThresholds(critical=0.1, high=0.05, medium=0.005)
    assert risk_class(p, strict).tolist() == ["critical"] * 3 + ["medium"]
    with pytest.raises(ValueError, match="thresholds"):
        stock_risk(flat_forecast({"N0": 1.0}), nodes=make_nodes(1),
                   inventory=stock({"N0": 1.0}), freq="W-MON",
                   thresholds=RiskThresholds(critical=0.1, high=0.5))


def test_last_prices_take_the_latest_known_price() -> None:
    history = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"]),
                            "node_id": "N0", "sku": "S0", "units": 1.0,
                            "price": [9.0, 8.0, np.nan]})
    assert last_prices(history)[("N0", "S0")] == 8.0
    assert last_prices(history.drop(columns="price")).empty


def test_a_forecast_without_a_stocked_series_gives_an_empty_table() -> None:
    elsewhere = stock({"N0": 10.0}).assign(sku="OTHER")
    risk = stock_risk(flat_forecast({"N0": 10.0}), nodes=make_nodes(1), inventory=elsewhere,
                      freq="W-MON")
    assert risk.empty
    assert {"p_stockout", "expected_lost_units", "risk_class"} <= set(risk.columns)
