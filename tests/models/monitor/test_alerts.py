"""Each detector on small hand-made cases, no look-ahead, and the alert lifecycle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.monitor.alerts import detect_alerts, replay, update_alerts
from models.monitor.vocabulary import ALERT_COLUMNS, KINDS
from tests.models.monitor.cases import channel, nodes, rebalance, week


def _series(frame: pd.DataFrame, node: str = "N0", sku: str = "S0") -> pd.Series:
    return (frame["node_id"] == node) & (frame["sku"] == sku)


def _kinds(alerts: pd.DataFrame, severe: bool = False) -> set[str]:
    if severe:
        alerts = alerts[alerts["severity"] != "low"]
    return set(alerts["kind"])


def test_clean_channel_raises_nothing_serious() -> None:
    alerts = replay(channel(), nodes(), since=week(60).date())
    assert (alerts["severity"] == "low").all() if len(alerts) else True
    assert list(alerts.columns)[: len(ALERT_COLUMNS)] == list(ALERT_COLUMNS)


def test_spike_without_promo_alerts_and_with_promo_does_not() -> None:
    frame = channel()
    hit = _series(frame) & (frame["date"] == week(70))
    frame.loc[hit, "units"] *= 5
    frame = rebalance(frame, "N0", "S0", level=1000.0)
    alerts = detect_alerts(frame, nodes(), as_of=week(70).date())
    spikes = alerts[alerts["kind"] == "demand_spike"]
    assert spikes[["node_id", "sku"]].values.tolist() == [["N0", "S0"]]
    assert spikes["severity"].iloc[0] in ("critical", "high")
    frame.loc[hit, "promo"] = 1
    assert "demand_spike" not in _kinds(detect_alerts(frame, nodes(), as_of=week(70).date()))


def test_lasting_drop_alerts_one_bad_week_does_not() -> None:
    frame = channel()
    later = _series(frame) & (frame["date"] >= week(66))
    one = frame.copy()
    one.loc[_series(one) & (one["date"] == week(66)), "units"] *= 0.35
    one = rebalance(one, "N0", "S0")
    assert "demand_drop" not in _kinds(detect_alerts(one, nodes(), as_of=week(66).date()))
    frame.loc[later, "units"] = np.round(frame.loc[later, "units"] * 0.35)
    frame = rebalance(frame, "N0", "S0")
    alerts = detect_alerts(frame, nodes(), as_of=week(68).date())
    drop = alerts[alerts["kind"] == "demand_drop"]
    assert drop[["node_id", "sku"]].values.tolist() == [["N0", "S0"]]
    assert drop["period_start"].iloc[0] == week(66)
    assert drop["observed"].iloc[0] < 0.5 * drop["expected"].iloc[0]


def test_censored_weeks_are_not_a_drop() -> None:
    frame = channel()
    out = _series(frame) & (frame["date"] >= week(66))
    frame.loc[out, "units"] = np.round(frame.loc[out, "units"] * 0.2)
    frame.loc[out, "on_hand"] = 0.0
    frame.loc[out, "sell_in"] = 0.0
    alerts = replay(frame, nodes(), since=week(66).date())
    demand = alerts[alerts["kind"].isin(["demand_drop", "demand_spike"])]
    assert not _series(demand).any()


def test_stock_mismatch_gives_sign_and_size() -> None:
    frame = channel()
    frame.loc[_series(frame, "N1", "S2") & (frame["date"] == week(75)), "on_hand"] -= 40
    alerts = detect_alerts(frame, nodes(), as_of=week(75).date())
    breaks = alerts[alerts["kind"] == "stock_mismatch"]
    assert breaks[["node_id", "sku"]].values.tolist() == [["N1", "S2"]]
    assert "40 units less" in breaks["message"].iloc[0]


def test_stuffing_at_a_node() -> None:
    frame = channel()
    push = (frame["node_id"] == "N2") & (frame["date"] >= week(70))
    frame.loc[push, "sell_in"] += 60.0
    extra = pd.Series(np.where(push, 60.0, 0.0), index=frame.index)
    frame["on_hand"] += extra.groupby([frame["node_id"], frame["sku"]]).cumsum()
    alerts = detect_alerts(frame, nodes(), as_of=week(75).date())
    stuffing = alerts[alerts["kind"] == "channel_stuffing"]
    assert stuffing["node_id"].tolist() == ["N2"] and stuffing["sku"].tolist() == [""]
    assert "stock_mismatch" not in _kinds(alerts)


def test_silent_node_is_a_reporting_gap() -> None:
    frame = channel()
    frame = frame[~((frame["node_id"] == "N1") & (frame["date"] >= week(78)))]
    alerts = detect_alerts(frame, nodes(), as_of=week(79).date())
    gap = alerts[alerts["kind"] == "reporting_gap"]
    assert gap["node_id"].tolist() == ["N1"]
    assert gap["period_start"].iloc[0] == week(78)
    assert _kinds(alerts) <= {"reporting_gap"}


def test_no_look_ahead() -> None:
    frame = channel(seed=4)
    changed = frame.copy()
    after = changed["date"] > week(70)
    changed.loc[after, "units"] = changed.loc[after, "units"] * 7 + 3
    changed.loc[after, "on_hand"] = 0.0
    for t in (65, 70):
        left = detect_alerts(frame, nodes(), as_of=week(t).date())
        right = detect_alerts(changed, nodes(), as_of=week(t).date())
        pd.testing.assert_frame_equal(left, right)
    full = replay(changed, nodes(), since=week(60).date())
    cut = replay(frame[frame["date"] <= week(70)], nodes(), since=week(60).date())
    started = full[full["period_start"] <= week(70)]
    assert set(cut["alert_id"]) <= set(full["alert_id"])
    assert set(started["alert_id"]) >= set(cut["alert_id"])


def test_replay_matches_detect_alerts_period_by_period() -> None:
    frame = channel(seed=2)
    frame.loc[_series(frame) & (frame["date"] == week(72)), "units"] *= 6
    frame = rebalance(frame, "N0", "S0", level=1000.0)
    alerts = replay(frame, nodes(), since=week(70).date())
    raised = detect_alerts(frame, nodes(), as_of=week(72).date())
    assert set(raised["kind"] + raised["node_id"]) <= set(alerts["kind"] + alerts["node_id"])


def _alert(kind: str, start: int, end: int) -> pd.DataFrame:
    return pd.DataFrame({"kind": [kind], "severity": ["high"], "node_id": ["N0"],
                         "sku": ["S0"], "period_start": [week(start)],
                         "period_end": [week(end)], "score": [2.0], "expected": [10.0],
                         "observed": [2.0], "message": ["m"], "channel": ["dealer"]})


def test_update_alerts_lifecycle() -> None:
    none = _alert("demand_drop", 1, 1).iloc[:0]
    first = update_alerts(none.assign(alert_id="", status=""), _alert("demand_drop", 10, 11),
                          as_of=week(11).date())
    assert len(first.opened) == 1 and first.extended.empty and first.closed.empty
    opened = first.opened.assign(status="acknowledged")
    second = update_alerts(opened, _alert("demand_drop", 11, 12), as_of=week(12).date())
    assert second.opened.empty and len(second.extended) == 1
    row = second.extended.iloc[0]
    assert row["alert_id"] == opened["alert_id"].iloc[0] and row["status"] == "acknowledged"
    assert row["period_start"] == week(10) and row["period_end"] == week(12)
    third = update_alerts(second.extended, none, as_of=week(13).date())
    assert third.closed["status"].tolist() == ["closed"]
    assert set(KINDS) >= {"demand_drop"}


def test_update_alerts_without_status_column() -> None:
    opened = update_alerts(_alert("demand_drop", 1, 1).iloc[:0].assign(alert_id=""),
                           _alert("stock_mismatch", 5, 5), as_of=week(5).date()).opened
    again = update_alerts(opened.drop(columns=["status"]), _alert("stock_mismatch", 5, 6),
                          as_of=week(6).date())
    assert again.extended["status"].tolist() == ["open"]
    assert again.extended["alert_id"].tolist() == opened["alert_id"].tolist()


def test_spike_at_every_node_of_an_item_is_not_a_spike_at_one_it_is() -> None:
    frame = channel(n_nodes=6, n_skus=2, seed=5)
    everywhere = (frame["sku"] == "S1") & (frame["date"] == week(72))
    frame.loc[everywhere, "units"] *= 4
    frame.loc[_series(frame, "N3", "S0") & (frame["date"] == week(72)), "units"] *= 4
    for node in frame["node_id"].unique():
        for sku in ("S0", "S1"):
            frame = rebalance(frame, node, sku, level=1000.0)
    alerts = detect_alerts(frame, nodes(6), as_of=week(72).date())
    spikes = alerts[alerts["kind"] == "demand_spike"]
    assert spikes[["node_id", "sku"]].values.tolist() == [["N3", "S0"]]
    assert "upper bound" in spikes["message"].iloc[0]
