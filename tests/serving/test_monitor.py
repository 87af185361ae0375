"""The monitor's pure helpers: an inventory snapshot's stock folded into the sell-through."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.monitor import fold_inventory


def test_snapshot_stock_fills_only_unreported_stock_of_its_period():
    tail = pd.DataFrame({
        "date": pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-06", "2025-01-13"]),
        "node_id": ["A", "A", "B", "B"], "sku": ["s", "s", "s", "s"],
        "units": [1.0, 2.0, 3.0, 4.0], "on_hand": [5.0, np.nan, 6.0, 7.0]})
    inventory = pd.DataFrame({
        "node_id": ["A", "B", "A"], "sku": ["s", "s", "s"], "on_hand": [40.0, 50.0, 99.0],
        "in_transit": [0.0, 0.0, 0.0],
        "as_of": pd.to_datetime(["2025-01-15", "2025-01-15", "2025-01-27"])})
    out = fold_inventory(tail, inventory)
    assert out["on_hand"].tolist() == [5.0, 40.0, 6.0, 7.0]  # B reported its own: kept
    assert tail["on_hand"].isna().sum() == 1  # the input is not changed
    assert fold_inventory(tail, None) is tail
    late = inventory.assign(as_of=pd.to_datetime("2025-03-01"))
    assert fold_inventory(tail, late) is tail  # past the last period: nothing to fill
