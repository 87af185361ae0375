"""Forecasts at every level: aggregate history, per-level backtest, the served levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.config import BacktestConfig
from features.schema import DATE, ITEM, NODE, UNITS
from features.synthetic import generate_channel_data
from models.hierarchy import COHERENT_METHODS, LEVELS, aggregate
from training.engine.backtest import run_backtest
from training.engine.forecast import UnknownSeriesError, fit_forecaster
from training.engine.hierarchy import (
    METHOD,
    aggregate_history,
    backtest_levels,
    choose_method,
    fit_levels,
)
from training.engine.hierarchy_model import NoHierarchyError

MODELS = ("snaive", "ma", "ets", "auto")
HORIZON = 4


@pytest.fixture(scope="module")
def data():
    return generate_channel_data(nodes=6, skus=4, periods=60, freq="W", seed=3)


@pytest.fixture(scope="module")
def freq(data) -> str:
    return str(pd.infer_freq(pd.DatetimeIndex(sorted(data.sell_through[DATE].unique()))))


@pytest.fixture(scope="module")
def levels(data, freq):
    config = BacktestConfig(horizon=HORIZON, windows=2, step=HORIZON, warmup=2, models=MODELS)
    bottom = run_backtest(data.sell_through, freq=freq, config=config, nodes=data.nodes)
    return backtest_levels(bottom, data.sell_through, nodes=data.nodes, config=config)


def test_aggregate_history_sums_the_bottom_series_and_adds_up_over_partitions(data, levels,
                                                                             freq):
    history = data.sell_through
    whole = aggregate_history(history, levels.hierarchy, freq=freq)
    total = whole[whole["level"] == "total"]
    total = total[total[ITEM] == "*"].set_index(DATE)[UNITS]
    expected = history.groupby(DATE)[UNITS].sum()
    pd.testing.assert_series_equal(total, expected.loc[total.index].astype(float),
                                   check_names=False)
    nodes = history[NODE].unique()
    parts = [aggregate_history(history[history[NODE].isin(part)], levels.hierarchy,
                               freq=freq) for part in (nodes[:3], nodes[3:])]
    key = ["level", NODE, ITEM, DATE]
    summed = pd.concat(parts).groupby(key)[UNITS].sum()
    pd.testing.assert_series_equal(summed, whole.set_index(key)[UNITS].sort_index())


def test_every_level_is_scored_and_the_winner_is_the_best_coherent_method(levels):
    scores, summary = levels.scores, levels.summary
    assert set(scores["level"]) == set(LEVELS)
    assert set(summary[METHOD]) == {"none", *COHERENT_METHODS}
    assert "wls_tuned" in COHERENT_METHODS  # a candidate for the served default
    assert scores["wrmsse"].notna().all() and scores["coverage95"].between(0, 1).all()
    coherent = summary[summary[METHOD] != "none"]
    assert (coherent["coherence_error"] < 1e-6).all()
    none = summary.loc[summary[METHOD] == "none", "wrmsse_bottom"].iloc[0]
    fit = coherent[coherent["wrmsse_bottom"] <= none * 1.01]
    best = (fit if len(fit) else coherent).sort_values("wrmsse_m5").iloc[0]
    assert levels.winner == best[METHOD]


def test_the_default_method_keeps_the_bottom_series_within_one_percent() -> None:
    summary = pd.DataFrame({METHOD: ["none", "mint_shrink", "bottom_up", "ols"],
                            "wrmsse_m5": [0.50, 0.48, 0.49, 0.49],
                            "wrmsse_bottom": [0.68, 0.70, 0.68, 0.685]})
    assert choose_method(summary) == "bottom_up"  # ties go to the earlier method
    assert choose_method(summary, bottom_tolerance=0.05) == "mint_shrink"
    worse = summary.assign(wrmsse_bottom=[0.5, 0.7, 0.7, 0.7])
    assert choose_method(worse) == "mint_shrink"  # none passes: every coherent method


def test_reconciled_predictions_add_up_and_quantiles_are_ordered(levels):
    preds = levels.predictions
    rec = preds[preds[METHOD] == levels.winner]
    qs = rec[["q0.025", "q0.1", "q0.5", "q0.9", "q0.975"]].to_numpy()
    assert (np.diff(qs, axis=1) >= -1e-9).all()
    bottom = rec[(rec["level"] == "node") & (rec["skus"] == "sku")]
    total = rec[(rec["level"] == "total") & (rec[ITEM] == "*")]
    sums = bottom.groupby(["cutoff", DATE])["mean"].sum()
    np.testing.assert_allclose(sums.to_numpy(), total.set_index(["cutoff", DATE])["mean"]
                               .loc[sums.index].to_numpy(), rtol=1e-9)


def test_served_levels_equal_the_backtest_at_the_same_cutoffs(data, freq):
    """The model's reconciled answer is the backtest's reconciled forecast at its origin."""
    history, nodes = data.sell_through, data.nodes
    served = fit_levels(history, nodes=nodes, freq=freq, horizon=HORIZON, models=MODELS,
                        calibration_windows=2, method="mint_shrink")
    dates = pd.DatetimeIndex(sorted(history[DATE].unique()))
    cuts = [dates[-1 - 2 * HORIZON], dates[-1 - HORIZON], dates[-1]]
    config = BacktestConfig(horizon=HORIZON, windows=1, step=HORIZON, warmup=2, models=MODELS)
    bottom = run_backtest(history, freq=freq, config=config, nodes=nodes, cutoffs=cuts)
    backtest = backtest_levels(bottom, history, nodes=nodes, config=config,
                               methods=("mint_shrink",)).predictions
    expected = backtest[backtest[METHOD] == "mint_shrink"].reset_index(drop=True)
    answer = served.predict_levels(expected[["level", NODE, ITEM]].drop_duplicates(),
                                   reconcile="mint_shrink", quantiles=(0.1, 0.5, 0.9))
    np.testing.assert_allclose(answer["mean"], expected["mean"], rtol=1e-9)
    np.testing.assert_allclose(answer["q0.9"], expected["q0.9"], rtol=1e-9)
    keys = served.keys.head(3)
    none = served.predict_levels(keys, reconcile="none")
    pd.testing.assert_frame_equal(none.drop(columns=["level", "reconcile"]),
                                  served.predict(keys))
    means = served.predict_levels(None)
    assert means["reconcile"].eq(served.reconcile).all()
    wide = means.pivot_table(index=["level", NODE, ITEM], columns="step", values="mean")
    bottom_rows = wide.loc["node"].loc[[tuple(k) for k in served.keys.to_numpy()]].to_numpy()
    np.testing.assert_allclose(aggregate(bottom_rows, served.hierarchy),
                               wide.loc[[tuple(k) for k in served.hierarchy.keys.to_numpy()]]
                               .to_numpy(), rtol=1e-9, atol=1e-9)


def test_unknown_aggregates_and_flat_models_are_refused(data, freq):
    served = fit_levels(data.sell_through, nodes=data.nodes, freq=freq, horizon=HORIZON,
                        models=("snaive", "ma"), calibration_windows=2)
    assert served.reconcile in COHERENT_METHODS
    with pytest.raises(UnknownSeriesError, match="NOPE"):
        served.predict_levels(pd.DataFrame({"level": ["parent"], NODE: ["NOPE"], ITEM: ["*"]}))
    with pytest.raises(ValueError, match="reconcile"):
        served.predict_levels(None, reconcile="magic")
    flat = fit_forecaster(data.sell_through, freq=freq, horizon=HORIZON, models=("snaive",),
                          calibration_windows=1)
    assert flat.hierarchy is None and flat.reconcile is None
    with pytest.raises(NoHierarchyError, match="without a hierarchy"):
        flat.predict_levels(None)


def test_rolling_forward_moves_the_aggregates_with_the_bottom_series(data, freq):
    history = data.sell_through
    dates = pd.DatetimeIndex(sorted(history[DATE].unique()))
    old = history[history[DATE] <= dates[-3]]
    served = fit_levels(old, nodes=data.nodes, freq=freq, horizon=HORIZON,
                        models=("snaive", "ma"), calibration_windows=2, method="bottom_up")
    rolled = served.update(history[history[DATE] > dates[-3]])
    assert rolled.origin == dates[-1] and rolled.levels is not None
    assert rolled.levels.upper.dates[0] == rolled.dates[0]
    total = pd.DataFrame({"level": ["total"], NODE: ["TOTAL"], ITEM: ["*"]})
    answer = rolled.predict_levels(total, reconcile="none")
    assert answer[DATE].iloc[0] == rolled.dates[0] and np.isfinite(answer["mean"]).all()
    reconciled = rolled.predict_levels(None)
    wide = reconciled.pivot_table(index=["level", NODE, ITEM], columns="step", values="mean")
    assert wide.notna().all().all()


def test_a_node_table_without_parents_or_channels_has_no_levels(data) -> None:
    from training.engine.hierarchy import has_hierarchy

    assert has_hierarchy(data.nodes)
    assert not has_hierarchy(None)
    assert not has_hierarchy(pd.DataFrame(columns=[NODE]))
    assert not has_hierarchy(data.nodes.drop(columns=["channel"]))
