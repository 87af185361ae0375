"""SBC classification on hand-built series of each class, and the default routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.classify import CLASSES, DEFAULT_ROUTES, profile_series, route

NAN = np.nan
T = 24


def _every(step: int, sizes: list[float]) -> np.ndarray:
    """Demand every `step`-th period (ending at the origin), cycling through `sizes`."""
    row = np.zeros(T)
    hits = np.arange(T - 1, -1, -step)[::-1]
    row[hits] = np.resize(sizes, hits.size)
    return row


HAND_BUILT = {
    "smooth": _every(1, [10.0, 11.0, 9.0]),
    "erratic": _every(1, [1.0, 20.0, 2.0, 30.0]),
    "intermittent": _every(3, [5.0]),
    "lumpy": _every(3, [1.0, 30.0]),
    "zero": np.zeros(T),
    "new": np.r_[np.full(T - 5, NAN), [3.0, 0.0, 4.0, 1.0, 2.0]],
}


def test_hand_built_series_of_each_class():
    profile = profile_series(np.vstack(list(HAND_BUILT.values())))
    assert list(profile.cls) == list(HAND_BUILT)
    assert set(profile.cls) == set(CLASSES)


def test_adi_cv2_and_share_values():
    profile = profile_series(np.vstack([HAND_BUILT["intermittent"], HAND_BUILT["lumpy"]]))
    np.testing.assert_allclose(profile.adi, [3.0, 3.0])
    # sizes 1, 30 alternating: mean 15.5, population variance 14.5**2
    np.testing.assert_allclose(profile.cv2, [0.0, (14.5 / 15.5) ** 2])
    np.testing.assert_allclose(profile.nonzero_share, [1 / 3, 1 / 3])
    np.testing.assert_array_equal(profile.n_obs, [T, T])


def test_blanked_stockout_periods_are_ignored():
    smooth = HAND_BUILT["smooth"].copy()
    smooth[[3, 4, 5, 10, 11]] = NAN  # censored weeks, not zero demand
    profile = profile_series(smooth[None])
    assert profile.cls[0] == "smooth"
    assert profile.adi[0] == 1.0
    assert profile.n_obs[0] == T - 5


def test_all_nan_and_short_rows_are_new_with_nan_statistics():
    y = np.vstack([np.full(T, NAN), np.r_[np.full(T - 3, NAN), [0.0, 0.0, 0.0]]])
    profile = profile_series(y)
    assert list(profile.cls) == ["new", "new"]
    assert np.isnan(profile.adi).all() and np.isnan(profile.cv2).all()
    assert np.isnan(profile.nonzero_share[0]) and profile.nonzero_share[1] == 0.0
    assert list(profile_series(y[1:], min_obs=3).cls) == ["zero"]


def test_window_profiles_only_recent_observed_periods():
    row = np.r_[_every(4, [1.0, 40.0])[:12], np.full(12, 7.0)]
    assert profile_series(row[None]).cls[0] != "smooth"
    recent = profile_series(row[None], window=12)
    assert recent.cls[0] == "smooth" and recent.n_obs[0] == T


def test_zero_in_window_after_old_sales_is_zero():
    row = np.r_[np.full(12, 5.0), np.zeros(12)]
    assert profile_series(row[None], window=10).cls[0] == "zero"


def test_route_defaults_and_overrides():
    profile = profile_series(np.vstack(list(HAND_BUILT.values())))
    assert list(route(profile)) == [DEFAULT_ROUTES[c] for c in HAND_BUILT]
    overridden = route(profile, {"lumpy": "croston_sba"})
    assert overridden[list(HAND_BUILT).index("lumpy")] == "croston_sba"
    with pytest.raises(ValueError, match="`routes`"):
        route(profile, {"sporadic": "tsb"})


def test_to_frame_is_categorical_per_series():
    profile = profile_series(np.vstack(list(HAND_BUILT.values())))
    frame = profile.to_frame(index=pd.Index(list(HAND_BUILT), name="series"))
    assert list(frame.columns) == ["cls", "adi", "cv2", "n_obs", "nonzero_share"]
    assert list(frame["cls"].cat.categories) == list(CLASSES)
    assert (frame["cls"].astype(str) == frame.index).all()


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"window": 0}, "window"), ({"min_obs": 0}, "min_obs")]
)
def test_invalid_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        profile_series(np.ones((1, 3)), **kwargs)
