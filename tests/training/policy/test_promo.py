"""Planned promotions: the lift is learned from past windows only and scales promoted steps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from features.engineering.history import Panel
from tests.training.policy.conftest import Small
from training.policy.promo import promo_lift, promo_scale


def _promoted(small: Small, factor: float) -> tuple[Panel, np.ndarray]:
    """The small panel with every third period promoted and its sales x `factor` there."""
    forecasts, _, _ = small
    panel = forecasts.panel
    promo = np.zeros_like(panel.units)
    promo[:, ::3] = 1.0
    units = np.where(promo > 0, panel.units * factor, panel.units)
    group = np.unique(panel.keys["sku"].astype(str), return_inverse=True)[1].astype(np.int64)
    return replace(panel, promo=promo, units=units), group


def test_lift_is_the_promoted_ratio_known_at_each_cutoff(small: Small) -> None:
    forecasts, _, _ = small
    panel, group = _promoted(small, 2.0)
    lift = promo_lift(panel, forecasts.means, start=forecasts.start, group=group)
    assert lift.shape == (forecasts.means.shape[0], group.max() + 1)
    assert np.all(lift[0] == 1.0)  # nothing realised before the first cutoff
    assert np.median(lift[-1]) > 1.5  # promoted sales doubled: the lift sees it
    later = replace(panel, units=np.where(np.arange(panel.n_periods) >= forecasts.start + 5,
                                          panel.units * 100, panel.units))
    early = promo_lift(later, forecasts.means, start=forecasts.start, group=group)[:5]
    np.testing.assert_allclose(early, lift[:5])  # sales after a cutoff never reach it


def test_scale_touches_promoted_steps_only(small: Small) -> None:
    forecasts, _, _ = small
    panel, group = _promoted(small, 2.0)
    scale = promo_scale(panel, forecasts.means, start=forecasts.start, group=group)
    assert scale is not None and scale.shape == forecasts.means.shape
    t = forecasts.start + np.arange(scale.shape[0])[:, None] + np.arange(scale.shape[2])
    promoted = (t % 3 == 0)[:, None, :] & (t < panel.n_periods)[:, None, :]
    assert np.all(scale[~np.broadcast_to(promoted, scale.shape)] == 1.0)
    no_plan = replace(panel, promo=np.full_like(panel.units, np.nan))
    assert promo_scale(no_plan, forecasts.means, start=forecasts.start, group=group) is None
