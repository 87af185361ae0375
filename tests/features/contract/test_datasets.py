"""Real data: the shared public datasets mapped to the contract and turned into training sets."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract.datasets import load_carparts, load_walmart
from features.engineering.history import build_panel
from features.engineering.training_set import ORIGIN, build_training_set
from tests.conftest import SHARED_DATA, require

DATA = SHARED_DATA


def _folder(name: str) -> Path:
    path = DATA / name
    require(path.is_dir(), f"{path} is absent: the shared real datasets are not on this machine")
    return path


def test_walmart_maps_to_the_contract_and_builds_a_training_set():
    data = load_walmart(_folder("walmart_store_dept"))
    sell = data.sell_through
    assert data.changes == {"clipped_negative_rows": 1285, "rows": 421_570}
    assert len(sell) == 421_570 and (sell["units"] >= 0).all()
    assert not sell.duplicated(["date", "node_id", "sku"]).any()
    assert set(sell["node_id"]) <= set(data.nodes["node_id"])
    assert (pd.to_datetime(sell["date"]).dt.day_name() == "Friday").all()

    panel = build_panel(sell, freq=data.freq)
    assert panel.n_series == 3331 and panel.n_periods == 143
    assert panel.filled.sum() == 27_667  # weeks missing inside a series, filled with 0

    ts = build_training_set(sell, horizon=8, freq=data.freq, nodes=data.nodes)
    assert len(ts) == panel.in_span().sum()
    assert ts.features["parent_units_rollmean_lag1_w4"].notna().mean() > 0.99
    # lag 1 at an origin is the sales of that very week
    row = ts.keys.index[(ts.keys["node_id"] == "S1") & (ts.keys["sku"] == "D1")
                        & (ts.keys[ORIGIN] == "2012-10-26")][0]
    truth = sell.loc[(sell.node_id == "S1") & (sell.sku == "D1") & (sell.date == "2012-10-26"),
                     "units"].item()
    assert ts.features.loc[row, "units_lag1"] == pytest.approx(truth, rel=1e-6)
    assert ts.known.matrix("holiday", 8).max() > 0  # Thanksgiving / Christmas weeks are flagged


def test_carparts_keeps_not_observed_cells_out():
    data = load_carparts(_folder("carparts"))
    assert data.changes["dropped_not_observed_cells"] == 6122
    ts = build_training_set(data.sell_through, horizon=6, freq=data.freq, nodes=data.nodes)
    assert ts.keys["sku"].nunique() == 2674
    assert len(ts) == 136_374 - 6122
    assert np.nanmean(ts.features["units_zeroshare_lag1_w12"]) > 0.6  # intermittent demand
