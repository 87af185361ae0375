"""The two recall readings of benchmarks/monitor.py on hand-made alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.monitor import score, score_peer

ONSET = pd.Timestamp("2020-03-06")
WEEK = pd.Timedelta(weeks=1)


def _alert(start: int, serious: int | None, sku: str = "D01") -> dict[str, object]:
    return {"kind": "demand_drop", "node_id": "W01", "sku": sku,
            "period_start": ONSET + start * WEEK,
            "serious_on": pd.NaT if serious is None else ONSET + serious * WEEK}


def _labels(*skus: str) -> pd.DataFrame:
    return pd.DataFrame({"kind": "demand_drop", "node_id": "W01", "sku": list(skus),
                         "onset": ONSET, "magnitude": 0.35})


def test_by_start_needs_the_start_in_the_window_and_any_later_raise() -> None:
    """(a) counts an alert starting 0..2 after the onset however late it reached medium;
    (b) counts one first at medium 0..2 after the onset wherever its evidence began."""
    alerts = pd.DataFrame([_alert(-1, 1, "D01"),   # evidence before the onset: (b) only
                           _alert(1, 4, "D02"),    # starts in time, medium late: (a) only
                           _alert(0, 1, "D03"),    # both
                           _alert(0, None, "D04"),  # never medium: neither
                           _alert(3, 3, "D05")])   # starts too late: neither
    table = score(alerts, _labels("D01", "D02", "D03", "D04", "D05")).iloc[0]
    assert table["n"] == 5
    assert table["recall_by_start"] == 0.4 and table["recall_raised_2"] == 0.4
    assert table["start_mean_delay"] == 2.5 and table["start_max_delay"] == 4.0
    assert table["raised_mean_delay"] == 1.0


def test_peer_alert_starts_at_the_first_flag_of_its_run() -> None:
    """A peer run going on from before the onset counts for (b) only."""
    dates = pd.date_range(ONSET - 50 * WEEK, periods=60, freq="7D")
    t0 = int(dates.get_loc(ONSET))
    flags = np.zeros((3, 60), bool)
    flags[0, t0 - 1:t0 + 2] = True   # run from before the onset
    flags[1, t0 + 1:t0 + 3] = True   # run starting one period late
    flags[2, 20:22] = True           # a clean series: one false run in the last 40 weeks
    keys = pd.DataFrame({"node_id": "W01", "sku": ["D01", "D02"]})
    table = score_peer({"peer:negative": flags}, keys, _labels("D01", "D02"), dates,
                       np.array([2])).iloc[0]
    assert table["recall_by_start"] == 0.5 and table["start_mean_delay"] == 1.0
    assert table["recall_raised_2"] == 1.0
    assert table["false_per_1000"] == 1000 / 40
