"""The two recall readings of benchmarks/monitor.py on hand-made alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.monitor import break_rows, confounded, score, score_peer, split_counts
from models.monitor.health import COMPONENTS

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


def _label(kind: str, node: str, onset: str, end: str | None = None) -> dict[str, object]:
    return {"kind": kind, "node_id": node, "sku": "D01", "onset": pd.Timestamp(onset),
            "end": pd.Timestamp(end or onset), "magnitude": 1.0}


def test_a_break_is_confounded_by_another_injection_on_its_node_in_the_month_before() -> None:
    """Any other label in effect (onset..end) during the month before the onset's month."""
    labels = pd.DataFrame([
        _label("stock_mismatch", "W01", "2020-03-06"),
        _label("demand_drop", "W01", "2020-01-10", "2020-06-26"),  # lasting, spans February
        _label("stock_mismatch", "W02", "2020-03-06"),
        _label("demand_spike", "W02", "2020-03-13"),               # same month, not before
        _label("stock_mismatch", "W03", "2020-03-06"),
        _label("demand_spike", "W04", "2020-02-14"),               # another node
        _label("stock_mismatch", "W05", "2020-03-06"),
        _label("demand_spike", "W05", "2020-02-28"),               # in February
    ])
    assert confounded(labels).tolist() == [True, False, False, False, False, False, True, False]


def _health(scores: dict[str, float], quality: dict[str, float], explanation: dict[str, str]
            ) -> pd.DataFrame:
    """Health rows by node: every component contributes 10 points but data_quality."""
    frame = pd.DataFrame({f"{c}_contribution": 10.0 for c in COMPONENTS}, index=list(scores))
    frame["data_quality_contribution"] = pd.Series(quality)
    return frame.assign(score=pd.Series(scores), explanation=pd.Series(explanation))


def test_break_rows_compare_with_the_month_before_the_onset_and_check_the_explanation() -> None:
    """(i) the onset's month, (ii) the month after, each against the month before the onset's
    month; the explanation must name the component that fell most between those two."""
    months = {
        "2020-02": _health({"W01": 90, "W02": 90}, {"W01": 10, "W02": 10},
                           {"W01": "weakest: stuffing", "W02": "weakest: stuffing"}),
        "2020-03": _health({"W01": 80, "W02": 85}, {"W01": 2.5, "W02": 2.5},
                           {"W01": "fell most: data_quality; weakest: data_quality",
                            "W02": "weakest: data_quality"}),
        "2020-04": _health({"W01": 85, "W02": 95}, {"W01": 5, "W02": 5},
                           {"W01": "weakest: data_quality", "W02": "weakest: data_quality"}),
    }
    labels = pd.DataFrame([_label("stock_mismatch", "W01", "2020-03-06"),
                           _label("stock_mismatch", "W02", "2020-03-27"),
                           _label("demand_drop", "W02", "2020-02-07", "2020-06-26")])
    same = break_rows(labels, months.__getitem__, 0)
    assert same["lower"].tolist() == [True, True]
    assert same["fell_most"].tolist() == ["data_quality", "data_quality"]
    assert same["named"].tolist() == [True, False]    # W02 names it only as the weakest
    assert same["mentions"].tolist() == [True, True]
    assert same["confounded"].tolist() == [False, True]
    after = break_rows(labels, months.__getitem__, 1)
    assert after["lower"].tolist() == [True, False]
    assert after["data_quality"].tolist() == [True, True] and not after["named"].any()
    assert split_counts(after["lower"], after["confounded"]) == (
        "1/2 overall; 1/1 among labels with no other injection on that node in the month before")
