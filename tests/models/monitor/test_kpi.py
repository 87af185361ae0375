"""KPIs: definitions on a hand-made channel, roll-ups that add up, month checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.monitor.kpi import KPI_COLUMNS, kpis
from tests.models.monitor.cases import channel, nodes


def test_kpis_add_up_across_levels() -> None:
    frame, table = channel(), nodes()
    series = kpis(frame, table, level="node_sku", month="2023-06")
    node = kpis(frame, table, level="node", month="2023-06")
    total = kpis(frame, table, level="total", month="2023-06")
    assert set(KPI_COLUMNS) <= set(node.columns)
    assert series["sell_through_units"].sum() == node["sell_through_units"].sum()
    assert node["sell_through_units"].sum() == total["sell_through_units"].iloc[0]
    june = frame[(frame["date"] >= "2023-06-01") & (frame["date"] < "2023-07-01")]
    assert total["sell_through_units"].iloc[0] == june["units"].sum()
    assert total["sell_through_value"].iloc[0] == pytest.approx(10 * june["units"].sum())
    assert (node["stock_balance_breaks"] == 0).all() and (node["periods_missing"] == 0).all()


def test_kpi_definitions() -> None:
    frame = channel(n_nodes=1, n_skus=1)
    row = kpis(frame, nodes(1), level="node", month="2023-06").iloc[0]
    june = frame[(frame["date"] >= "2023-06-01") & (frame["date"] < "2023-07-01")]
    may_end = frame[frame["date"] < "2023-06-01"]["on_hand"].iloc[-1]
    units = june["units"].sum()
    assert row["sell_through_rate"] == pytest.approx(units / (may_end + june["sell_in"].sum()))
    assert row["weeks_of_cover"] == pytest.approx(june["on_hand"].iloc[-1] / (units / len(june)))
    assert row["sell_in_to_sell_through_ratio"] == pytest.approx(june["sell_in"].sum() / units)
    may = frame[(frame["date"] >= "2023-05-01") & (frame["date"] < "2023-06-01")]
    growth = 100 * (units / len(june) / (may["units"].sum() / len(may)) - 1)
    assert row["growth_vs_prev_pct"] == pytest.approx(growth)
    assert np.isfinite(row["forecast_error_wape"])


def test_missing_periods_and_bad_month() -> None:
    frame = channel()
    gone = (frame["node_id"] == "N1") & (frame["date"] >= pd.Timestamp("2023-06-05"))
    table = kpis(frame[~gone], nodes(), level="node", month="2023-06")
    assert table.set_index("node_id")["periods_missing"].to_dict() == {"N0": 0, "N1": 4, "N2": 0}
    with pytest.raises(ValueError, match="YYYY-MM"):
        kpis(frame, nodes(), month="June")
    with pytest.raises(ValueError, match="no sell-through in 2030-01"):
        kpis(frame, nodes(), month="2030-01")
    with pytest.raises(ValueError, match="`level` must be one of"):
        kpis(frame, nodes(), level="region")
