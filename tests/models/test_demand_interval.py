"""Protection-interval demand: closed forms, step combination, and the frame entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.periods import period_days
from models.demand_interval import (
    DEFAULT_LEVELS,
    IntervalDemand,
    combine_steps,
    interval_coverage,
    interval_demand,
    protection_periods,
)
from tests.conftest import make_nodes
from tests.models.allocation.cases import make_demand

UNIFORM = IntervalDemand.from_knots(levels=[0.0, 1.0], values=[[0.0, 10.0]])


def test_uniform_demand_has_closed_form_answers() -> None:
    y = np.array([4.0])
    assert UNIFORM.sf(y)[0] == pytest.approx(0.6)
    # E[min(D, y)] for D ~ U(0, 10): y - y^2 / 20
    assert UNIFORM.expected_sales(y)[0] == pytest.approx(4.0 - 16.0 / 20)
    assert UNIFORM.expected_shortfall(y)[0] == pytest.approx(5.0 - 3.2)
    assert UNIFORM.quantile(0.25)[0] == pytest.approx(2.5)


@pytest.mark.parametrize("y, sold, sf", [(-1.0, 0.0, 1.0), (0.0, 0.0, 1.0), (20.0, 5.0, 0.0)])
def test_stock_outside_the_support(y: float, sold: float, sf: float) -> None:
    assert UNIFORM.expected_sales(np.array([y]))[0] == pytest.approx(sold)
    assert UNIFORM.sf(np.array([y]))[0] == pytest.approx(sf)


def test_point_mass_at_zero_is_a_jump_of_the_cdf() -> None:
    d = IntervalDemand.from_knots(levels=[0.0, 0.3, 1.0], values=[[0.0, 0.0, 7.0]])
    assert d.sf(np.array([0.0]))[0] == pytest.approx(0.7)
    assert d.expected_sales(np.array([7.0]))[0] == pytest.approx(d.expected[0])


def test_expected_sales_matches_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    d = make_demand(rng, 5)
    u = rng.random(200_000)
    draws = np.stack([np.interp(u, d.levels, d.values[i]) for i in range(5)])
    y = d.quantile(0.6)
    mc = np.minimum(draws, y[:, None]).mean(axis=1)
    np.testing.assert_allclose(d.expected_sales(y), mc, rtol=0.01)
    np.testing.assert_allclose(d.sf(y), (draws > y[:, None]).mean(axis=1), atol=0.01)


def test_expected_sales_is_concave_in_stock() -> None:
    d = make_demand(np.random.default_rng(1), 8)
    grid = np.linspace(0, d.values[:, -1].max() * 1.2, 60)
    sales = d.expected_sales(np.tile(grid, (8, 1)))
    gains = np.diff(sales, axis=1)
    assert (gains >= -1e-9).all() and (np.diff(gains, axis=1) <= 1e-9).all()


def test_one_full_step_is_that_step() -> None:
    levels = np.array(DEFAULT_LEVELS)
    step = np.sort(np.random.default_rng(0).gamma(2.0, 3.0, (4, 1, levels.size)), axis=2)
    mean, knots, values = combine_steps(step, step.mean(axis=2), levels=levels,
                                        periods=np.ones(4), correlation=0.3)
    np.testing.assert_allclose(values[:, 1:-1], step[:, 0, :])
    np.testing.assert_allclose(mean, step.mean(axis=2)[:, 0])
    assert knots[0] == 0.0 and knots[-1] == 1.0


@pytest.mark.parametrize("rho, factor", [(1.0, 2.0), (0.0, np.sqrt(2.0))])
def test_two_equal_steps_widen_by_the_correlation(rho: float, factor: float) -> None:
    levels = np.array(DEFAULT_LEVELS)
    step = 10.0 + np.linspace(-4.0, 4.0, levels.size)
    vals = np.tile(step, (1, 2, 1))
    means = np.full((1, 2), 10.0)
    mean, _, values = combine_steps(vals, means, levels=levels, periods=np.array([2.0]),
                                    correlation=rho)
    assert mean[0] == pytest.approx(20.0)
    np.testing.assert_allclose(values[0, 1:-1] - 20.0, factor * (step - 10.0))


def test_partial_and_extra_periods_weight_the_steps() -> None:
    levels = np.array(DEFAULT_LEVELS)
    vals = np.tile(np.linspace(1.0, 3.0, levels.size), (2, 2, 1))
    means = np.full((2, 2), 2.0)
    mean, _, _ = combine_steps(vals, means, levels=levels, periods=np.array([1.5, 3.0]),
                               correlation=1.0)
    np.testing.assert_allclose(mean, [3.0, 6.0])  # 1 + 0.5 steps; 2 steps + the last again


def test_interval_demand_from_a_forecast_frame() -> None:
    levels = DEFAULT_LEVELS
    rows = []
    for node in ("N0", "N1"):
        for step in (1, 2):
            row = {"node_id": node, "sku": "S0", "step": step, "mean": 5.0}
            row.update({f"q{q:g}": 5.0 + 10 * (q - 0.5) for q in levels})
            rows.append(row)
    frame = pd.DataFrame(rows)
    periods = protection_periods(make_nodes(2), freq="W-MON")
    assert periods["N0"] == pytest.approx(2.0)  # 7 days lead + 7 days review
    d = interval_demand(frame, periods=periods)
    assert list(d.keys["node_id"]) == ["N0", "N1"]
    assert d.mean == pytest.approx([10.0, 10.0])
    assert d.quantile(0.5) == pytest.approx([10.0, 10.0])


def test_interval_demand_refuses_bad_frames() -> None:
    frame = pd.DataFrame({"node_id": ["N0"], "sku": ["S0"], "step": [1], "mean": [1.0],
                          "q0.1": [0.0], "q0.9": [2.0]})
    with pytest.raises(ValueError, match="q0.5"):
        interval_demand(frame, periods=1.0)
    frame["q0.5"] = 1.0
    with pytest.raises(ValueError, match="periods"):
        interval_demand(frame, periods=pd.Series({"OTHER": 2.0}))
    with pytest.raises(ValueError, match="steps"):
        interval_demand(pd.concat([frame, frame.assign(node_id="N1", step=2)]), periods=1.0)


def test_period_days_and_bad_freq() -> None:
    assert period_days("W-FRI") == 7.0 and period_days("D") == 1.0
    with pytest.raises(ValueError, match="freq"):
        period_days("H")


def test_coverage_of_draws_from_the_distribution_itself() -> None:
    rng = np.random.default_rng(7)
    d = make_demand(rng, 4000)
    u = rng.random(4000)
    actual = np.array([np.interp(u[i], d.levels, d.values[i]) for i in range(4000)])
    cover = interval_coverage(d, actual)
    assert cover["cover_80"] == pytest.approx(0.8, abs=0.03)
    assert cover["cover_95"] == pytest.approx(0.95, abs=0.02)


def test_served_demand_drops_what_is_lost_before_the_shipment_lands() -> None:
    levels = [0.0, 1.0]
    d = IntervalDemand.from_knots(levels=levels, values=[[0.0, 20.0], [0.0, 20.0]])
    d = IntervalDemand(keys=d.keys, mean=d.mean, periods=d.periods, levels=d.levels,
                       values=d.values, lead=np.array([[0.0, 10.0], [0.0, 10.0]]))
    served = d.served(np.array([0.0, 10.0]))
    np.testing.assert_allclose(served.values, [[0.0, 10.0], [0.0, 20.0]])
    assert served.mean == pytest.approx([5.0, 10.0])
    assert IntervalDemand.from_knots(levels=levels, values=[[0.0, 3.0]]).served([0.0]).values[
        0, 1] == 3.0  # without a lead part nothing changes


def test_interval_demand_keeps_the_lead_part() -> None:
    rows = [{"node_id": "N0", "sku": "S0", "step": k, "mean": 5.0,
             **{f"q{q:g}": 10 * q for q in DEFAULT_LEVELS}} for k in (1, 2)]
    d = interval_demand(pd.DataFrame(rows), periods=2.0, lead=1.0)
    assert d.lead is not None
    np.testing.assert_allclose(d.lead[0, 1:-1], 10 * np.array(DEFAULT_LEVELS))
    np.testing.assert_allclose(d.values[0, 1:-1], 20 * np.array(DEFAULT_LEVELS))


def test_interval_demand_attaches_a_narrower_ranking_distribution() -> None:
    rows = [{"node_id": n, "sku": "S0", "step": k, "mean": 5.0,
             **{f"q{q:g}": 10 * q for q in DEFAULT_LEVELS}} for n in ("N0", "N1") for k in (1, 2)]
    d = interval_demand(pd.DataFrame(rows), periods=2.0, lead=1.0)
    assert d.ranking is not None and d.ranking.lead is not None
    assert d.ranking.mean == pytest.approx(d.mean)
    width = d.quantile(0.9) - d.quantile(0.1)
    narrow = d.ranking.quantile(0.9) - d.ranking.quantile(0.1)
    np.testing.assert_allclose(narrow, width / np.sqrt(2))  # two independent equal steps
    one = d.take([1])
    assert one.ranking is not None and len(one.ranking) == 1
    served = d.served(np.array([0.0, 3.0]))
    assert served.ranking is not None
    np.testing.assert_allclose(served.ranking.values, d.ranking.served([0.0, 3.0]).values)
    plain = interval_demand(pd.DataFrame(rows), periods=2.0, ranking_correlation=None)
    assert plain.ranking is None
