"""The gamma ranking distribution: mean kept, overdispersed count variance, lead below total."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from models.allocation.ranking import gamma_ranking
from models.demand_interval import DEFAULT_LEVELS, IntervalDemand

LEVELS = [0.0, *DEFAULT_LEVELS, 1.0]


def _demand(means: list[float], lead_share: float = 0.5) -> IntervalDemand:
    m = np.array(means)[:, None]
    values = m * np.linspace(0.2, 1.8, len(LEVELS))[None, :]
    demand = IntervalDemand.from_knots(levels=LEVELS, values=values)
    return replace(demand, lead=values * lead_share)


def test_ranking_keeps_the_mean_and_takes_the_count_variance() -> None:
    demand = _demand([2.0, 50.0, 0.0])
    ranked = gamma_ranking(demand, dispersion=10.0)
    np.testing.assert_array_equal(ranked.values, demand.values)  # the calibrated one stays
    r = ranked.ranking
    assert r is not None and r.lead is not None
    np.testing.assert_allclose(r.expected[:2], demand.expected[:2], rtol=0.03)
    assert np.all(r.values[2] == 0.0)  # no demand forecast: nothing to rank on
    spread = (r.quantile(0.9) - r.quantile(0.1))[:2] / demand.expected[:2]
    assert spread[0] > spread[1]  # relative spread falls with the mean (Poisson part)
    assert np.all(r.lead <= r.values + 1e-12)


def test_a_narrower_dispersion_widens_the_ranking() -> None:
    demand = _demand([20.0])
    narrow = gamma_ranking(demand, dispersion=50.0).ranking
    wide = gamma_ranking(demand, dispersion=2.0).ranking
    assert narrow is not None and wide is not None
    assert wide.quantile(0.95)[0] > narrow.quantile(0.95)[0]
    with pytest.raises(ValueError, match="`dispersion` must be > 0"):
        gamma_ranking(demand, dispersion=0.0)
