"""The pooled rate in the replay: past sales only, and the knob that turns it off."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.training.policy.conftest import Small
from training.policy.backtest import PolicyBacktestConfig, replay_setup
from training.policy.pooled import evidence_windows, pooled_scale


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
    config = replace(config, ranking_dispersion=None)
    plain = replay_setup(f, nodes=nodes, config=replace(config, pooled_weight=0.0),
                         pack_sizes=packs).policy
    pooled = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs).policy
    assert plain.channelcast_dists is None  # channelcast allocates on the forecasts
    assert pooled.channelcast_dists is not None
    moved = [not np.allclose(p.mean, d.mean) for p, d in zip(pooled.channelcast_dists,
                                                              pooled.dists, strict=True)]
    assert any(moved)
    np.testing.assert_allclose(pooled.dists[3].mean, plain.dists[3].mean)  # fair share's


def test_gamma_ranking_is_attached_to_channelcasts_distributions_only(small: Small) -> None:
    f, nodes, packs = small
    config = PolicyBacktestConfig(start=f.start, models=("ma", "tsb", "auto"),
                                  planned_promotions=False, pooled_weight=0.0)
    policy = replay_setup(f, nodes=nodes, config=config, pack_sizes=packs).policy
    assert policy.channelcast_dists is not None
    ours, theirs = policy.channelcast_dists[2], policy.dists[2]
    np.testing.assert_allclose(ours.values, theirs.values)  # stage 2 and risk: unchanged
    assert ours.ranking is not None and theirs.ranking is not None
    assert not np.allclose(ours.ranking.values, theirs.ranking.values)


def test_pooled_rate_is_left_out_until_it_has_helped(small: Small) -> None:
    f, _, _ = small
    group = _group(small)
    scale = pooled_scale(f.panel, f.means, start=f.start, interval=f.interval, group=group)
    assert np.all(scale[:int(f.interval.max())] == 1.0)  # no interval over yet: no evidence
    windows, _, horizon = f.means.shape
    t = f.start + np.arange(windows)[:, None] + np.arange(horizon)[None, :]
    sales = np.nan_to_num(f.panel.units, nan=0.0)
    perfect = sales[:, np.minimum(t, f.panel.n_periods - 1)].transpose(1, 0, 2)
    scale = pooled_scale(f.panel, perfect, start=f.start, interval=f.interval, group=group)
    assert np.all(scale == 1.0)  # forecasts that were exact are never moved


def test_evidence_is_every_window_over_or_the_products_layout() -> None:
    assert evidence_windows(3, longest=4).tolist() == []  # no interval over yet
    assert evidence_windows(6, longest=4).tolist() == [0, 1, 2]  # window 2 ends at week 6
    assert evidence_windows(11, longest=4, windows=3).tolist() == []
    assert evidence_windows(13, longest=4, windows=3).tolist() == [1, 5, 9]


def test_intervals_longer_than_the_forecasts_count_as_the_forecasts_steps(small: Small) -> None:
    f, _, _ = small
    group = _group(small)
    steps = int(f.interval.max()) - 1  # forecasts shorter than the longest interval
    means = f.means[:, :, :steps]
    capped = np.minimum(f.interval, steps)
    for windows in (None, 2):
        long = pooled_scale(f.panel, means, start=f.start, interval=f.interval, group=group,
                            windows=windows)
        short = pooled_scale(f.panel, means, start=f.start, interval=capped, group=group,
                             windows=windows)
        np.testing.assert_array_equal(long, short)  # evidence `steps` apart, over after `steps`
    assert not np.all(long[steps:] == 1.0)  # the gate has evidence from week `steps` on
