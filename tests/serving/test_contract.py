"""JSON rows through the data contract: the validator's rules, with field paths."""

from __future__ import annotations

from serving.contract import check_rows
from tests.conftest import make_nodes


def test_rows_get_the_contracts_reasons_with_body_paths():
    rows = [{"node_id": "N0", "sku": "S1", "on_hand": 3.0, "in_transit": 0.0,
             "as_of": "2024-01-01"},
            {"node_id": "N1", "sku": "S1", "on_hand": -1.0, "in_transit": 0.0,
             "as_of": "2024-01-01"},
            {"node_id": "N9", "sku": "S1", "on_hand": 1.0, "in_transit": 0.0,
             "as_of": "2024-01-01"}]
    accepted, problems = check_rows({"inventory": rows}, nodes=make_nodes(2))
    assert len(accepted["inventory"]) == 1
    by_loc = {p.loc: p for p in problems}
    assert by_loc[("body", "inventory", 1, "on_hand")].type == "below_minimum"
    unknown = by_loc[("body", "inventory", 2, "node_id")]
    assert unknown.unknown_node and unknown.value == "N9"


def test_sell_through_dates_are_checked_against_the_grid():
    rows = [{"date": "2024-01-01", "node_id": "N0", "sku": "S1", "units": 1.0},
            {"date": "2024-01-03", "node_id": "N0", "sku": "S2", "units": 1.0}]
    _, problems = check_rows({"sell_through": rows}, nodes=make_nodes(1), freq="W-MON",
                             fields={"sell_through": "rows"})
    assert [(p.loc, p.type) for p in problems] == [(("body", "rows", 1, "date"),
                                                    "off_grid_date")]
