import numpy as np
import pandas as pd
import pytest

from features.config import FeatureSpec
from features.engineering.training_set import ORIGIN, build_training_set
from tests.conftest import make_history, make_nodes

FREQ = "W-MON"


def _origin_rows(ts, origin):
    keep = (ts.keys[ORIGIN] <= origin).to_numpy()
    feats = ts.features[keep].reset_index(drop=True)
    known = {k: ts.known.matrix(k, ts.horizon)[keep] for k in ts.known.names}
    return feats, known


def test_changing_everything_after_the_origin_changes_no_feature():
    history = make_history(n_nodes=3, n_items=4, weeks=70, seed=3)
    nodes = make_nodes(3)
    origin = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=40)
    before = build_training_set(history, horizon=6, freq=FREQ, nodes=nodes)

    after = history.copy()
    later = after["date"] > origin
    rng = np.random.default_rng(99)
    after.loc[later, "units"] = rng.poisson(50, later.sum()).astype(float)
    after.loc[later, "on_hand"] = 0.0
    perturbed = build_training_set(after, horizon=6, freq=FREQ, nodes=nodes)

    f0, k0 = _origin_rows(before, origin)
    f1, k1 = _origin_rows(perturbed, origin)
    pd.testing.assert_frame_equal(f0, f1)
    for name in k0:
        np.testing.assert_array_equal(k0[name], k1[name], err_msg=name)
    # the perturbation really reached the targets, so the test can fail
    assert not np.array_equal(before.targets, perturbed.targets, equal_nan=True)


def test_future_price_and_promo_only_move_target_dated_values():
    history = make_history(n_nodes=2, n_items=2, weeks=60, seed=4)
    origin = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=30)
    before = build_training_set(history, horizon=4, freq=FREQ)
    after = history.copy()
    later = after["date"] > origin
    after.loc[later, "promo"] = 1 - after.loc[later, "promo"]
    after.loc[later, "price"] = 1.0
    perturbed = build_training_set(after, horizon=4, freq=FREQ)
    f0, k0 = _origin_rows(before, origin)
    f1, k1 = _origin_rows(perturbed, origin)
    pd.testing.assert_frame_equal(f0, f1)
    changed = {n for n in k0 if not np.array_equal(k0[n], k1[n], equal_nan=True)}
    assert changed == {"promo", "price", "price_ratio"}


def test_oracle_units_equal_week_index():
    weeks = 20
    history = pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=weeks, freq=FREQ),
        "node_id": "N", "sku": "A", "units": np.arange(weeks, dtype=float),
    })
    ts = build_training_set(history, horizon=3, freq=FREQ,
                            spec=FeatureSpec(lags=(1, 2), windows=(4,), season=4))
    t = np.arange(weeks)
    np.testing.assert_array_equal(ts.features["units_lag1"], t)
    np.testing.assert_array_equal(ts.features["units_lag2"][1:], t[1:] - 1)
    np.testing.assert_allclose(ts.features["units_rollmean_lag1_w4"][3:], t[3:] - 1.5)
    np.testing.assert_array_equal(ts.targets[:-3], np.stack([t[:-3] + k for k in (1, 2, 3)], 1))
    assert np.isnan(ts.targets[-1]).all()
    # last season's units for the target: known only while target - 4 <= origin
    seasonal = ts.known.matrix("units_lag4", ts.horizon)
    np.testing.assert_array_equal(seasonal[10], [7, 8, 9])
    assert np.isnan(seasonal[0]).all()


def test_constant_demand_gives_flat_statistics():
    history = make_history(weeks=30).assign(units=3.0, on_hand=10.0)
    ts = build_training_set(history, horizon=2, freq=FREQ)
    last = ts.keys[ORIGIN] == ts.keys[ORIGIN].max()
    row = ts.features[last.to_numpy()].iloc[0]
    assert row["units_rollmean_lag1_w13"] == 3
    assert row["units_rollstd_lag1_w13"] == 0
    assert row["units_zeroshare_lag1_w13"] == 0
    assert row["sku_units_rollmean_lag1_w4"] == 6  # 2 nodes x 3 units


def test_stockout_targets_are_flagged_and_skipped_by_windows():
    history = make_history(n_nodes=1, n_items=1, weeks=10).assign(units=4.0, on_hand=5.0)
    history.loc[5, ["units", "on_hand"]] = [1.0, 0.0]  # stock-out: sold 1, demand unknown
    ts = build_training_set(history, horizon=1, freq=FREQ, spec=FeatureSpec(windows=(4,)))
    assert ts.censored[4, 0] and ts.censored.sum() == 1
    assert ts.features["units_rollmean_lag1_w4"].iloc[6] == 4.0  # the 1 is not demand
    assert ts.features["units_lag1"].iloc[5] == 1.0  # lags show what was sold
    assert ts.features["censored_lag1"].iloc[5] == 1.0


def test_cutoff_hides_later_data_and_keeps_earlier_rows_identical():
    history = make_history(weeks=40, seed=5)
    cutoff = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=25)
    full = build_training_set(history, horizon=4, freq=FREQ)
    cut = build_training_set(history, horizon=4, freq=FREQ, cutoff=cutoff)
    assert cut.keys[ORIGIN].max() == cutoff
    target_dates = cut.keys[ORIGIN].to_numpy()[:, None] + np.arange(1, 5) * np.timedelta64(7, "D")
    assert np.isnan(cut.targets[target_dates > np.datetime64(cutoff)]).all()
    f_full, _ = _origin_rows(full, cutoff)
    pd.testing.assert_frame_equal(f_full, cut.features.reset_index(drop=True))


def test_stack_and_horizon_frames_line_up(history, nodes):
    ts = build_training_set(history, horizon=3, freq=FREQ, nodes=nodes)
    X, y, cens, keys = ts.stack()
    assert len(X) == len(y) == len(cens) == len(keys) == np.isfinite(ts.targets).sum()
    assert list(X.columns) == ts.feature_names
    assert set(X["horizon"]) == {1, 2, 3}
    assert ((keys["date"] - keys[ORIGIN]).dt.days == X["horizon"].to_numpy() * 7).all()
    X2, y2, _ = ts.horizon_frame(2)
    assert len(X2) == len(ts) and X2["horizon"].eq(2).all()
    with pytest.raises(ValueError, match="`k` must be in 1..3"):
        ts.horizon_frame(4)
    assert X["channel"].dtype == "category" and "priority" in X


def test_last_origin_for_forecasting_uses_planned_promotions(history):
    end = history["date"].max()
    future = pd.DataFrame({"date": [end + pd.Timedelta(weeks=2)], "node_id": ["N1"],
                           "sku": ["S2"], "promo": [1.0], "price": [5.0]})
    ts = build_training_set(history, horizon=3, freq=FREQ, origins="last", future=future)
    assert len(ts) == 6 and (ts.keys[ORIGIN] == end).all()
    row = ((ts.keys["node_id"] == "N1") & (ts.keys["sku"] == "S2")).to_numpy()
    np.testing.assert_array_equal(ts.known.matrix("promo", 3)[row][0], [np.nan, 1.0, np.nan])
    assert ts.known.matrix("price", 3)[row][0, 1] == 5.0
    assert np.isnan(ts.targets).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`horizon` must be >= 1"):
        build_training_set(make_history(), horizon=0, freq=FREQ)
    with pytest.raises(ValueError, match="`lags`"):
        build_training_set(make_history(), horizon=1, freq=FREQ, spec=FeatureSpec(lags=(0,)))
    with pytest.raises(KeyError, match="units"):
        build_training_set(make_history().drop(columns="units"), horizon=1, freq=FREQ)
