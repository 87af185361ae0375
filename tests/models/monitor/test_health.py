"""Health index: ranges, components that explain it, roll-ups and weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.monitor.health import COMPONENTS, HealthWeights, health_index
from tests.models.monitor.cases import channel, nodes, rebalance


def test_scores_grades_and_components() -> None:
    table = health_index(channel(n_nodes=10), nodes(10), month="2023-06")
    assert table["score"].between(0, 100).all()
    assert set(table["grade"]) <= set("ABCDE")
    parts = table[[f"{c}_contribution" for c in COMPONENTS]].sum(axis=1)
    assert np.allclose(parts, table["score"], atol=0.1)
    assert table["rank"].tolist() == list(range(1, 11))
    assert table["unusual_score"].between(0, 1).all()


def test_stuffed_node_scores_lowest_and_says_why() -> None:
    frame = channel(n_nodes=10)
    push = (frame["node_id"] == "N3") & (frame["date"] >= pd.Timestamp("2023-05-01"))
    extra = pd.Series(np.where(push, 60.0, 0.0), index=frame.index)
    frame["sell_in"] += extra
    frame["on_hand"] += extra.groupby([frame["node_id"], frame["sku"]]).cumsum()
    table = health_index(frame, nodes(10), month="2023-06")
    worst = table.iloc[0]
    assert worst["node_id"] == "N3"
    assert worst["stuffing_score"] < 50
    assert "stuffing" in worst["explanation"] or "cover_band" in worst["explanation"]


def test_break_lowers_data_quality() -> None:
    frame = channel(n_nodes=10)
    frame.loc[(frame["node_id"] == "N5") & (frame["sku"] == "S1")
              & (frame["date"] == pd.Timestamp("2023-06-12")), "on_hand"] -= 30
    before = health_index(frame, nodes(10), month="2023-05").set_index("node_id")
    after = health_index(frame, nodes(10), month="2023-06").set_index("node_id")
    assert after.loc["N5", "score"] < before.loc["N5", "score"]
    assert after.loc["N5", "data_quality_score"] == 6.2  # the wrong report, then the next
    assert "data_quality" in after.loc["N5", "explanation"]


def test_levels_and_weights() -> None:
    frame, table = channel(), nodes()
    assert len(health_index(frame, table, level="parent")) == 1
    assert len(health_index(frame, table, level="channel")) == 1
    only = HealthWeights(**dict.fromkeys(COMPONENTS, 0.0) | {"availability": 1.0})
    one = health_index(frame, table, weights=only)
    assert np.allclose(one["score"], one["availability_score"], atol=0.1)
    with pytest.raises(ValueError, match="HealthWeights"):
        HealthWeights(stuffing=-1.0)
    with pytest.raises(ValueError, match="node, parent or channel"):
        health_index(frame, table, level="sku")


def test_a_break_after_last_months_break_scores_lower() -> None:
    frame = channel(n_nodes=10)
    for sku, day in (("S1", "2023-05-15"), ("S2", "2023-06-12")):
        frame.loc[(frame["node_id"] == "N5") & (frame["sku"] == sku)
                  & (frame["date"] == pd.Timestamp(day)), "on_hand"] -= 30
    before = health_index(frame, nodes(10), month="2023-05").set_index("node_id")
    after = health_index(frame, nodes(10), month="2023-06").set_index("node_id")
    assert after.loc["N5", "data_quality_value"] == 2 + 0.5 * 2  # May's two still count half
    assert after.loc["N5", "score"] < before.loc["N5", "score"]
    assert "data_quality" in after.loc["N5", "explanation"]


def test_a_dip_that_recurs_every_year_costs_less_than_a_new_one() -> None:
    frame = channel(n_nodes=10)
    march = frame["date"].dt.month == 3
    recurring = march & (frame["node_id"] == "N1")
    new = march & (frame["date"].dt.year == 2023) & (frame["node_id"] == "N2")
    frame.loc[recurring | new, "units"] = np.round(frame.loc[recurring | new, "units"] * 0.6)
    for node in ("N1", "N2"):
        for sku in frame["sku"].unique():
            frame = rebalance(frame, node, sku)
    table = health_index(frame, nodes(10), month="2023-03").set_index("node_id")
    both = table.loc[["N1", "N2"], "growth_vs_forecast_value"]
    assert (both < -15).all()  # the KPI itself is not adjusted: both dipped
    assert table.loc["N1", "growth_vs_forecast_score"] > table.loc["N2",
                                                                   "growth_vs_forecast_score"] + 20
    assert table.loc["N1", "score"] > table.loc["N2", "score"]
