"""channelcast's planned demand: scaling rows equals scaling their forecast steps; ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.allocation.planned import channelcast_demand
from models.allocation.ranking import gamma_ranking
from models.demand_interval import DEFAULT_LEVELS, demand_from_steps


def _steps(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, h = 6, 4
    means = rng.gamma(2.0, 3.0, (n, h))
    spread = np.linspace(-1.2, 1.2, len(DEFAULT_LEVELS))[None, None, :]
    values = np.clip(means[:, :, None] * (1.0 + 0.5 * spread), 0.0, None)
    keys = pd.DataFrame({"node_id": [f"N{i}" for i in range(n)], "sku": "S"})
    return keys, values, means


def test_scaling_rows_equals_scaling_the_forecast_steps() -> None:
    keys, values, means = _steps()
    factor = np.array([0.0, 0.5, 1.0, 1.3, 2.0, 0.8])
    periods, lead = np.array([2.0, 3.0, 4.0, 1.5, 2.5, 3.0]), np.array([1.0, 1, 2, 1, 1, 2])
    direct = demand_from_steps(keys, values * factor[:, None, None], means * factor[:, None],
                               levels=DEFAULT_LEVELS, periods=periods, lead=lead)
    scaled = demand_from_steps(keys, values, means, levels=DEFAULT_LEVELS, periods=periods,
                               lead=lead).scaled(factor)
    assert scaled.lead is not None and direct.lead is not None
    assert scaled.ranking is not None and direct.ranking is not None
    for got, want in [(scaled.values, direct.values), (scaled.lead, direct.lead),
                      (scaled.mean, direct.mean), (scaled.ranking.values, direct.ranking.values),
                      (scaled.expected, direct.expected)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_channelcast_demand_is_the_scaled_demand_with_the_gamma_ranking() -> None:
    keys, values, means = _steps(1)
    demand = demand_from_steps(keys, values, means, levels=DEFAULT_LEVELS,
                               periods=np.full(6, 3.0), lead=np.ones(6))
    factor = np.linspace(0.5, 1.5, 6)
    planned = channelcast_demand(demand, factor=factor)
    want = gamma_ranking(demand.scaled(factor))
    assert planned.ranking is not None and want.ranking is not None
    np.testing.assert_array_equal(planned.values, want.values)
    np.testing.assert_array_equal(planned.ranking.values, want.ranking.values)
    plain = channelcast_demand(demand, dispersion=None)
    assert plain is demand  # no factor, no gamma ranking: the forecast's own


def test_negative_factors_are_refused() -> None:
    keys, values, means = _steps()
    demand = demand_from_steps(keys, values, means, levels=DEFAULT_LEVELS,
                               periods=np.full(6, 2.0))
    with pytest.raises(ValueError, match="`factor` must be finite and >= 0"):
        demand.scaled(np.array([1.0, -1.0, 1, 1, 1, 1]))
