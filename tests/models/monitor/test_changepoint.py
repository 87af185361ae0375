"""Dating alerts at the most likely change point of their evidence, never later or earlier
than its run, and without look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.monitor.alerts import replay
from models.monitor.changepoint import shift_start, sum_from
from models.monitor.channel import node_flow
from models.monitor.config import MonitorConfig
from models.monitor.demand import demand_expectation
from models.monitor.panel import build_panel
from tests.models.monitor.cases import channel, nodes, rebalance, week

NAN = np.nan


def _starts(excess: list[float], first: int = 0) -> np.ndarray:
    """shift_start of one row with every period active, the run beginning at `first`."""
    x = np.array([excess], dtype=float)
    run_first = np.full(x.shape, first, dtype=np.int64)
    return shift_start(x, run_first, np.ones(x.shape, dtype=bool))[0]


def test_a_mild_period_before_a_shift_is_not_its_start() -> None:
    assert _starts([0.8, 3.0, 3.0])[2] == 1
    assert _starts([1.0, 1.0, 1.0])[2] == 0  # a uniform run keeps its first period
    assert _starts([2.0, 1.0, 0.5])[2] == 0


def test_ties_go_to_the_later_start_and_uncounted_periods_are_skipped() -> None:
    assert _starts([1.0, 1.0, 1.0, 3.0])[3] == 3  # 6 / sqrt(4) == 3 / sqrt(1)
    assert _starts([0.0, 0.0, 0.0])[2] == 2
    assert _starts([0.8, NAN, 3.0, NAN])[3] == 2  # NaN: neither a start nor counted
    assert _starts([NAN, NAN], first=0)[1] == 0  # nothing counted: the run's first period


def test_start_stays_inside_the_run_and_inactive_periods_keep_it() -> None:
    x = np.array([[5.0, 0.8, 3.0, 3.0, 1.0]])
    run_first = np.array([[0, 1, 1, 1, 1]])
    active = np.array([[True, True, True, True, False]])
    start = shift_start(x, run_first, active)[0]
    assert start.tolist() == [0, 1, 2, 2, 1]  # 5.0 before the run is never a candidate


def test_start_uses_no_period_after_t() -> None:
    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, (50, 30))
    run_first = np.minimum(np.arange(30)[None, :], rng.integers(0, 30, (50, 1)))
    active = np.ones(x.shape, dtype=bool)
    changed = x.copy()
    changed[:, 20:] = rng.exponential(9.0, (50, 10))
    left, right = shift_start(x, run_first, active), shift_start(changed, run_first, active)
    np.testing.assert_array_equal(left[:, :20], right[:, :20])


def test_sum_from_sums_from_each_start() -> None:
    values = np.array([[1.0, 2.0, 4.0, 8.0]])
    np.testing.assert_array_equal(sum_from(values, np.array([[0, 0, 2, 1]])),
                                  [[1.0, 3.0, 4.0, 14.0]])


def _drop(frame: pd.DataFrame, mild: bool) -> pd.DataFrame:
    """N0/S0 down to 35% from week 66; with `mild`, week 65 a little below its normal."""
    out = frame.copy()
    series = (out["node_id"] == "N0") & (out["sku"] == "S0")
    out.loc[series & (out["date"] >= week(66)), "units"] = 20.0
    out.loc[series & (out["date"] == week(65)), "units"] = 52.0 if mild else 20.0
    return rebalance(out, "N0", "S0")


def test_drop_dated_at_the_drop_not_at_a_mildly_low_week_before() -> None:
    frame = _drop(channel(), mild=True)
    exp = demand_expectation(build_panel(frame), MonitorConfig())
    z65 = exp.z[0, 65]  # row 0 is N0/S0: the run begins at week 65, a little low
    assert -3.0 < z65 < -MonitorConfig().drop_slack
    drops = replay(frame, nodes(), since=week(64).date())
    drops = drops[(drops["kind"] == "demand_drop") & (drops["node_id"] == "N0")
                  & (drops["sku"] == "S0")]
    assert drops["period_start"].tolist() == [week(66)]
    assert f"from {week(66):%Y-%m-%d} to" in drops["message"].iloc[0]  # sums from week 66
    assert drops["observed"].iloc[0] == 20.0 * ((drops["period_end"].iloc[0] - week(66)).days
                                                // 7 + 1)


def test_uniformly_low_run_keeps_its_first_period() -> None:
    drops = replay(_drop(channel(), mild=False), nodes(), since=week(64).date())
    drops = drops[(drops["kind"] == "demand_drop") & (drops["node_id"] == "N0")
                  & (drops["sku"] == "S0")]
    assert drops["period_start"].tolist() == [week(65)]


def _stuff(frame: pd.DataFrame, node: str, onset: int) -> pd.DataFrame:
    """Every series of `node` receives 60 extra units a week from `onset` (stock piles up)."""
    push = (frame["node_id"] == node) & (frame["date"] >= week(onset))
    out = frame.assign(sell_in=frame["sell_in"] + np.where(push, 60.0, 0.0))
    extra = pd.Series(np.where(push, 60.0, 0.0), index=frame.index)
    out["on_hand"] += extra.groupby([frame["node_id"], frame["sku"]]).cumsum()
    return out


def _stuffing_starts(frame: pd.DataFrame) -> list[pd.Timestamp]:
    alerts = replay(frame, nodes(), since=week(60).date())
    return alerts.loc[alerts["kind"] == "channel_stuffing", "period_start"].tolist()


def test_stuffing_dated_at_the_push_not_at_ordinary_loading_before() -> None:
    frame = channel()
    flow = node_flow(build_panel(frame))
    n2 = list(flow.node_ids).index("N2")
    # the order-up-to flow ships a little more than it sells in weeks 69 and 70, not in 68
    assert (flow.sell_in[n2, 69:71] > flow.units[n2, 69:71]).all()
    assert flow.sell_in[n2, 68] <= flow.units[n2, 68]
    assert _stuffing_starts(_stuff(frame, "N2", 71)) == [week(71)]


def test_stuffing_from_a_quiet_week_keeps_its_first_period() -> None:
    frame = channel()
    flow = node_flow(build_panel(frame))
    n2 = list(flow.node_ids).index("N2")
    assert flow.sell_in[n2, 65] <= flow.units[n2, 65]
    assert _stuffing_starts(_stuff(frame, "N2", 66)) == [week(66)]
