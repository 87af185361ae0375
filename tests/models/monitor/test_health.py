"""Health index: ranges, components that explain it, roll-ups and weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.monitor.health import COMPONENTS, HealthWeights, health_index
from tests.models.monitor.cases import channel, nodes


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
