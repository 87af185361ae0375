"""Policy backtest: the replay's bookkeeping, its information cut-off, and a run end to end."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.synthetic import generate_channel_data
from tests.conftest import SHARED_DATA, require
from tests.training.policy.conftest import Small
from training.policy.backtest import (
    BACKTEST_POLICIES,
    FAIR_SHARE,
    PRODUCTION_MODELS,
    PolicyBacktestConfig,
    policy_forecasts,
    run_policy_backtest,
)
from training.policy.interval_check import CORRELATIONS, check_intervals
from training.policy.sim import SimInputs, simulate

WALMART = SHARED_DATA / "walmart_store_dept"


def one_node(demand: list[float], *, lead: int = 0, initial: float = 0.0,
             supply: list[float] | None = None) -> SimInputs:
    d = np.array([demand], dtype=float)
    return SimInputs(demand=d, group=np.zeros(1, np.int64), lead=np.array([lead]), review=1,
                     supply=np.array([supply or [0.0] * len(demand)]),
                     initial=np.array([initial]))


def ship_nothing(_t: int, position: np.ndarray, _central: np.ndarray) -> np.ndarray:
    return np.zeros_like(position)


def ship_all(_t: int, _position: np.ndarray, central: np.ndarray) -> np.ndarray:
    return central.copy()


def test_nodes_sell_what_they_hold_and_lose_the_rest() -> None:
    out = simulate(one_node([3, 3, 3], initial=5), decide=ship_nothing)
    assert (out.sold, out.lost, out.stockouts) == (5.0, 4.0, 2)
    assert out.fill_rate == pytest.approx(5 / 9)
    assert out.node_stock.tolist() == [2.0, 0.0, 0.0]


def test_shipments_arrive_after_their_lead_time() -> None:
    out = simulate(one_node([4, 0, 5], lead=2, supply=[5, 0, 0]), decide=ship_all)
    assert out.sold == 5.0 and out.lost == 4.0  # shipped at 0, usable from period 2


def test_stock_is_conserved_when_shipments_land_at_once() -> None:
    rng = np.random.default_rng(0)
    demand = rng.poisson(3.0, (4, 30)).astype(float)
    supply = rng.poisson(10.0, (2, 30)).astype(float)
    inputs = SimInputs(demand=demand, group=np.array([0, 0, 1, 1]), lead=np.zeros(4, np.int64),
                       review=2, supply=supply, initial=np.full(4, 5.0))
    out = simulate(inputs, decide=lambda _t, _p, c: np.repeat(c / 2, 2))
    start, added = inputs.initial.sum(), supply.sum()
    assert start + added == pytest.approx(out.sold + out.node_stock[-1] + out.central_stock[-1])


def test_a_policy_shipping_stock_it_does_not_have_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="central stock"):
        simulate(one_node([1, 1], supply=[1, 0]), decide=lambda _t, _p, c: c + 1)


def test_each_decision_uses_forecasts_from_before_its_period(small: Small) -> None:
    forecasts, _, _ = small
    cutoffs = pd.DatetimeIndex(sorted(forecasts.predictions["cutoff"].unique()))
    expected = forecasts.panel.dates[forecasts.start - 1: forecasts.panel.n_periods - 1]
    assert cutoffs.equals(pd.DatetimeIndex(expected))
    assert forecasts.means.shape[0] == len(expected)
    assert (forecasts.predictions["date"] > forecasts.predictions["cutoff"]).all()


def test_policy_table_has_every_policy_and_scarcity(small: Small) -> None:
    forecasts, nodes, packs = small
    table = run_policy_backtest(forecasts, nodes=nodes, config=PolicyBacktestConfig(start=40),
                                pack_sizes=packs)
    assert len(table) == 12 and set(table["policy"]) == set(BACKTEST_POLICIES)
    assert table["fill_rate"].between(0, 1).all()
    assert (table[["lost_units", "avg_node_stock", "stockouts"]] >= 0).all().all()
    by = table.groupby("policy")["fill_rate"]
    assert (by.last() >= by.first() - 0.02).all()  # more supply never fills much less
    assert (table["fill_rate"] <= table["supply_cap"] + 1e-9).all()  # nobody sells more
    np.testing.assert_allclose(table["avg_total_stock"],
                               table["avg_node_stock"] + table["avg_central_stock"])
    np.testing.assert_allclose(table["cost"], table["lost_margin"] + table["holding_cost"])
    assert (table["node_holding_cost"] <= table["holding_cost"] + 1e-9).all()


def test_the_oracle_fills_at_least_as_much_as_every_policy(small: Small) -> None:
    forecasts, nodes, packs = small
    for supply in ("demand", "flat"):
        table = run_policy_backtest(forecasts, nodes=nodes, pack_sizes=packs,
                                    config=PolicyBacktestConfig(start=40, supply=supply))
        for share, rows in table.groupby("scarcity"):
            by = rows.set_index("policy")
            oracle = by.loc["oracle"]
            assert (by["fill_rate"] <= oracle["fill_rate"] + 1e-12).all(), (supply, share, by)
            assert oracle["fill_rate"] <= oracle["supply_cap"] + 1e-12
            assert (by["fill_rate"] <= oracle["fill_bound"] + 1e-9).all()
            best = by.loc[list(FAIR_SHARE), "fill_rate"].max()
            share_fill = (by["fill_rate"] - best) / (oracle["fill_rate"] - best)
            np.testing.assert_allclose(by["headroom_fill"], share_fill)
            assert by.loc["oracle", "headroom_fill"] == 1.0
            assert by.loc[list(FAIR_SHARE), "headroom_fill"].max() == 0.0
            assert by.loc["oracle", "headroom_value"] == 1.0


def test_headroom_is_missing_without_an_oracle(small: Small) -> None:
    forecasts, nodes, packs = small
    table = run_policy_backtest(forecasts, nodes=nodes, pack_sizes=packs,
                                config=PolicyBacktestConfig(start=40, scarcity=(0.85,),
                                                            policies=("channelcast", *FAIR_SHARE)))
    assert table[["headroom_fill", "headroom_value"]].isna().all().all()
    with pytest.raises(ValueError, match="`policies` must be from"):
        run_policy_backtest(forecasts, nodes=nodes,
                            config=PolicyBacktestConfig(start=40, policies=("clairvoyant",)))


def test_flat_supply_delivers_the_same_total_evenly(small: Small) -> None:
    forecasts, nodes, packs = small
    config = PolicyBacktestConfig(start=40, policies=("channelcast",))
    step = run_policy_backtest(forecasts, nodes=nodes, config=config, pack_sizes=packs)
    flat = run_policy_backtest(forecasts, nodes=nodes, pack_sizes=packs,
                               config=replace(config, supply="flat"))
    assert set(step["supply"]) == {"demand"} and set(flat["supply"]) == {"flat"}
    np.testing.assert_allclose(flat["supply_cap"], step["supply_cap"])  # same total supply
    assert not np.allclose(flat["fill_rate"], step["fill_rate"])  # but other timing
    assert (flat["fill_rate"] <= flat["supply_cap"] + 1e-9).all()
    with pytest.raises(ValueError, match="supply"):
        run_policy_backtest(forecasts, nodes=nodes, config=replace(config, supply="weekly"))


def test_interval_check_picks_a_correlation_on_early_periods(small: Small) -> None:
    forecasts, _, _ = small
    check = check_intervals(forecasts)
    assert check.correlation in CORRELATIONS
    assert set(check.table["split"]) == {"calibration", "test"}
    assert check.table[["cover_80", "cover_95"]].stack().between(0, 1).all()


def test_lightgbm_is_refitted_on_its_cadence_and_forecasts_every_period(
        lgbm_fits: list[pd.Timestamp]) -> None:
    data = generate_channel_data(nodes=4, skus=3, periods=56, freq="W", seed=4)
    config = PolicyBacktestConfig(start=44, models=("lgbm", "ma", "auto"), lgbm_refit_every=5)
    freq = pd.infer_freq(pd.DatetimeIndex(sorted(data.sell_through["date"].unique())))
    forecasts = policy_forecasts(data.sell_through, freq=str(freq), nodes=data.nodes,
                                 config=config)
    cutoffs = forecasts.panel.dates[44 - 1 - config.warmup: forecasts.panel.n_periods - 1]
    assert lgbm_fits == list(cutoffs[::5])  # warm-up and replayed cutoffs, every 5th refits
    assert forecasts.means.shape[0] == forecasts.panel.n_periods - 44
    assert np.isfinite(forecasts.steps).all()


def test_start_must_leave_room_for_warmup_and_replay(small: Small) -> None:
    forecasts, nodes, _ = small
    with pytest.raises(ValueError, match="start"):
        policy_forecasts(forecasts.panel.to_frame(), freq=forecasts.panel.freq, nodes=nodes,
                         config=PolicyBacktestConfig(start=2))


def test_a_single_model_without_auto_is_the_one_replayed() -> None:
    data = generate_channel_data(nodes=3, skus=2, periods=50, freq="W", seed=3)
    config = PolicyBacktestConfig(start=40, models=("ma",))
    forecasts = policy_forecasts(data.sell_through, freq="W-MON", nodes=data.nodes,
                                 config=config)
    assert set(forecasts.predictions["model"]) == {"ma"}
    assert forecasts.steps.shape[:2] == (50 - 40, forecasts.panel.n_series)
    with pytest.raises(ValueError, match="`model` 'auto' is not among"):
        policy_forecasts(data.sell_through, freq="W-MON", nodes=data.nodes,
                         config=replace(config, model="auto"))


@pytest.mark.slow
def test_interval_coverage_on_walmart() -> None:
    require(WALMART.exists(), f"{WALMART} is absent: the real-data calibration check needs it")
    from features.contract.datasets import load_walmart

    data = load_walmart(WALMART)
    stores = {f"S{i}" for i in range(1, 9)}
    sell = data.sell_through[data.sell_through["node_id"].isin(stores)]
    config = PolicyBacktestConfig(start=100, models=("snaive", "ma", "auto"))
    forecasts = policy_forecasts(sell, freq=data.freq, nodes=data.nodes, config=config)
    check = check_intervals(forecasts, correlations=(0.0, 0.5, 1.0))
    test = check.table[(check.table["split"] == "test")
                       & (check.table["correlation"] == check.correlation)].iloc[0]
    assert 0.7 <= test["cover_80"] <= 0.92 and 0.86 <= test["cover_95"] <= 0.99


@pytest.mark.slow
def test_channelcast_beats_both_fair_shares_on_generated_data() -> None:
    """Issue 5's goal on the benchmark's generated data (benchmarks/policy.py `generated`):
    with the production forecaster (LightGBM refitted every 13 weeks, ETS, baselines, `auto`)
    channelcast fills more than both fair-share policies at every scarcity level, with no
    more node or total stock."""
    data = generate_channel_data(nodes=20, skus=40, periods=130, freq="W", seed=3)
    truth = data.truth.rename(columns={"demand": "units"})[["date", "node_id", "sku", "units"]]
    freq = pd.infer_freq(pd.DatetimeIndex(sorted(data.sell_through["date"].unique())))
    config = PolicyBacktestConfig(start=70,  # the production models, LightGBM every 13 weeks
                                  policies=("channelcast", *FAIR_SHARE))  # no oracle: slow
    assert config.models == PRODUCTION_MODELS and config.lgbm_refit_every == 13
    forecasts = policy_forecasts(data.sell_through, freq=str(freq), nodes=data.nodes,
                                 config=config, demand=truth)
    table = run_policy_backtest(forecasts, nodes=data.nodes, config=config,
                                pack_sizes=data.central_stock.set_index("sku")["pack_size"])
    for share, rows in table.groupby("scarcity"):
        by = rows.set_index("policy")
        ours, others = by.loc["channelcast"], by.loc[list(FAIR_SHARE)]
        assert (ours["fill_rate"] > others["fill_rate"]).all(), (share, by["fill_rate"])
        for stock in ("avg_node_stock", "avg_total_stock"):
            assert (ours[stock] <= others[stock]).all(), (share, stock, by[stock])
