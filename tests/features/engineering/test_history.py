import numpy as np
import pandas as pd
import pytest

from features.engineering.history import build_panel
from features.periods import period_index, season_length


def test_gaps_inside_a_series_are_zero_and_flagged(history):
    series = history.index[(history.node_id == "N0") & (history.sku == "S0")]
    dropped = history.drop(index=series[3])
    panel = build_panel(dropped, freq="W-MON")
    s = panel.keys.index[(panel.keys.node_id == "N0") & (panel.keys.sku == "S0")][0]
    assert panel.units[s, 3] == 0 and panel.filled[s, 3]
    assert panel.filled.sum() == 1
    assert (panel.units[~panel.filled] >= 0).all()


def test_gap_after_a_stockout_is_censored_not_zero_demand():
    rows = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-22"]),
        "node_id": "N", "sku": "A", "units": [5.0, 2.0, 4.0], "on_hand": [3.0, 0.0, 6.0],
    })
    panel = build_panel(rows, freq="W-MON")
    np.testing.assert_array_equal(panel.censored[0], [False, True, True, False])
    assert panel.filled[0, 2]


def test_late_start_and_early_end_stay_outside_the_span():
    rows = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-08"]),
        "node_id": ["N", "N", "N", "M"], "sku": "A", "units": [1.0, 2.0, 3.0, 7.0],
    })
    panel = build_panel(rows, freq="W-MON")
    m = panel.keys.index[panel.keys.node_id == "M"][0]
    assert np.isnan(panel.units[m, 0]) and np.isnan(panel.units[m, 2])
    assert panel.first[m] == 1 and panel.last[m] == 1
    assert len(panel.to_frame()) == 4


def test_off_grid_dates_and_duplicates_are_refused():
    rows = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-09"]),
                         "node_id": "N", "sku": "A", "units": [1.0, 2.0]})
    with pytest.raises(ValueError, match="not on the W-MON grid"):
        build_panel(rows, freq="W-MON")
    dup = pd.concat([rows.iloc[:1]] * 2)
    with pytest.raises(ValueError, match="duplicate"):
        build_panel(dup, freq="W-MON")


def test_monthly_grid_and_season_lengths():
    pos = period_index(pd.to_datetime(["2024-01-01", "2024-03-01", "2024-03-05"]),
                       start=pd.Timestamp("2024-01-01"), freq="MS")
    np.testing.assert_array_equal(pos[:2], [0, 2])
    assert np.isnan(pos[2])
    assert (season_length("W-FRI"), season_length("D"), season_length("MS")) == (52, 7, 12)
    with pytest.raises(ValueError, match="`freq`"):
        season_length("H")
