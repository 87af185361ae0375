"""A planner's override: which lines it may name, how a changed line is explained again."""

from __future__ import annotations

import pandas as pd
import pytest

from models.allocation import (
    edited_reason,
    line_reason,
    line_records,
    off_pack,
    over_available,
    override_lines,
    unknown_lines,
)


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "node_id": ["N0", "N1"], "sku": ["S1", "S1"], "priority": [1, 2],
        "allocated": [6.0, 4.0], "packs": [3, 2], "demand_mean": [5.0, 3.0],
        "demand_q0.9": [8.0, float("nan")], "on_hand": [1.0, 0.0], "in_transit": [0.0, 0.0],
        "position_before": [1.0, 0.0], "position_after": [7.0, 4.0],
        "p_stockout_before": [0.9, 1.0], "p_stockout_after": [0.2, 0.3],
        "bound": ["demand", "available"]})


def test_line_records_explain_every_line_and_blank_nan_to_zero() -> None:
    lines = line_records(_table())
    assert [line["node_id"] for line in lines] == ["N0", "N1"]
    assert lines[1]["demand_q0_9"] == 0.0
    assert lines[0]["proposed"] == lines[0]["allocated"] == 6.0
    assert lines[0]["reason"] == (
        "6 units (3 pack(s)); demand over the protection interval 5.0 on average (90% <= 8.0);"
        " position 1 -> 7; stock-out risk 90% -> 20%; stopped by demand: more would not be "
        "expected to sell over the node's protection interval.")


def test_override_changes_only_the_named_lines_and_says_who_and_why() -> None:
    lines = line_records(_table())
    new, changes = override_lines(lines, {"N1": 2.0}, pack_size=2, by="ana", reason="promo")
    assert changes == [{"node_id": "N1", "from": 4.0, "to": 2.0}]
    assert new[0] == lines[0]
    assert lines[1]["allocated"] == 4.0  # the stored lines are not changed in place
    line = new[1]
    assert (line["allocated"], line["packs"], line["position_after"], line["bound"]) == (
        2.0, 1, 2.0, "override")
    assert line["p_stockout_after"] is None
    assert line["reason"] == line_reason(line) + " Overridden by ana: promo"
    assert "stock-out risk 100% before; stopped by override: set by a planner." in line["reason"]


def test_override_constraints() -> None:
    lines = line_records(_table())
    assert unknown_lines(lines, {"N9": 2.0, "N0": 2.0, "N3": 1.0}) == ["N3", "N9"]
    assert off_pack({"N0": 4.0, "N1": 3.0}, 2) == ["N1"]
    assert over_available(lines, 10.0) is None
    assert over_available(lines, 9.0) == 10.0
    with pytest.raises(KeyError):
        override_lines(lines, {"N9": 2.0}, pack_size=1, by="ana", reason="x")


def test_edited_reason_leads_with_the_new_quantity() -> None:
    line = line_records(_table())[0]
    assert edited_reason(line, 2.0, 0.5, by="ana").startswith(
        "Overridden by ana: 2 units; position 1 -> 3; stock-out risk 90% -> 50% (proposal 6: ")
