"""The pooled rate in the replay: past sales only, and the knob that turns it off."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.training.policy.conftest import Small
from training.policy.backtest import PolicyBacktestConfig, replay_setup
from training.policy.pooled import pooled_scale


def _group(small: Small) -> np.ndarray:
    panel = small[0].panel
    return np.unique(panel.keys["sku"].astype(str), return_inverse=True)[1].astype(np.int64)


def test_scale_uses_only_sales_before_each_window(small: Small) -> None:
    f, _, _ = small
    group = _group(small)
    scale = pooled_scale(f.panel, f.means, start=f.start, interval=f.interval, group=group)
    assert scale.shape == f.means.shape[:2]
    assert np.isfinite(scale).all() and (scale >= 0).all()
    later = replace(f.panel, units=np.where(np.arange(f.panel.n_periods) >= f.start + 5,
                                            f.panel.units * 100, f.panel.units))
    early = pooled_scale(later, f.means, start=f.start, interval=f.interval, group=group)
    np.testing.assert_allclose(early[:6], scale[:6])  # window 5 sees periods before start + 5
    assert not np.allclose(early[6:], scale[6:])


def test_weight_zero_leaves_channelcast_on_the_forecasts(small: Small) -> None:
    f, nodes, packs = small
    config = PolicyBacktestConfig(start=f.start, models=("ma", "tsb", "auto"),
                                  planned_promotions=False)
    plain = replay_setup(f, nodes=nodes, config=replace(config, pooled_weight=0.0),
                         pack_sizes=packs).policy
    pooled = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs).policy
    assert plain.channelcast_dists is None  # channelcast allocates on the forecasts
    assert pooled.channelcast_dists is not None
    moved = [not np.allclose(p.mean, d.mean) for p, d in zip(pooled.channelcast_dists,
                                                              pooled.dists, strict=True)]
    assert any(moved)
    np.testing.assert_allclose(pooled.dists[3].mean, plain.dists[3].mean)  # fair share's
