"""Data folders for the validation tests: a refused node with many rows below it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import write_folder

NODES_HEADER = "node_id,parent_id,channel,lead_time_days,review_period_days,priority\n"
BELOW = ["N1", "N2", "N3", "N4", "N5"]  # N1-N4 are D1's children, N5 is N1's child
WEEKS = pd.date_range("2024-01-01", periods=30, freq="W-MON").strftime("%Y-%m-%d")
SKUS = ["A", "B", "C", "D"]
ROOT_LINE = ("nodes.csv row 3, column parent_id: parent_id 'RX' is not a node_id in nodes.csv; "
             "add the node to nodes.csv or fix the id")
SUMMARY_LINE = ("... and 5 nodes below it; 600 sell-through rows of 5 nodes; 5 inventory rows "
                "of 5 nodes, refused because of this row")
REFUSED = {"sell_through.csv": 601, "nodes.csv": 6, "inventory.csv": 5}  # per file
DEPENDENT = 610  # refused only because D1 is: 5 nodes, 600 sell-through, 5 inventory rows


def refused_parent_folder(root: Path) -> Path:
    """D1 (nodes.csv row 3) names an unknown parent, so D1, the 5 nodes below it and their
    600 sell-through and 5 inventory rows are refused; N9 is fine but for one negative sale
    (sell_through.csv row 2)."""
    nodes = (NODES_HEADER + "R1,,region,0,7,1\nD1,RX,distributor,3,7,1\n"
             + "".join(f"N{i},D1,dealer,7,7,1\n" for i in range(1, 5))
             + "N5,N1,dealer,7,7,1\nN9,R1,dealer,7,7,1\n")
    sell = ["date,node_id,sku,units"]
    for node in ["N9", *BELOW]:
        sell += [f"{week},{node},{sku},2" for week in WEEKS for sku in SKUS]
    sell[1] = sell[1].removesuffix(",2") + ",-1"
    inventory = "node_id,sku,on_hand,in_transit,as_of\n" + "".join(
        f"{node},A,5,0,2024-07-22\n" for node in ["N9", *BELOW])
    return write_folder(root, {"nodes.csv": nodes, "sell_through.csv": "\n".join(sell) + "\n",
                               "inventory.csv": inventory})
