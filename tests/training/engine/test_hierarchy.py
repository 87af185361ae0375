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
    score_levels,
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


def test_every_level_is_scored_and_the_winner_is_the_best_coherent_method(levels, data, freq):
    scores, summary = levels.scores, levels.summary
    assert set(scores["level"]) == set(LEVELS)
    assert set(summary[METHOD]) == {"none", *COHERENT_METHODS}
    assert "wls_tuned" in COHERENT_METHODS  # a candidate for the served default
    assert scores["wrmsse"].notna().all() and scores["coverage95"].between(0, 1).all()
    coherent = summary[summary[METHOD] != "none"]
    assert (coherent["coherence_error"] < 1e-6).all()
    none = summary.loc[summary[METHOD] == "none", "wrmsse_bottom"].iloc[0]
    fit = coherent[coherent["wrmsse_bottom"] <= none * 1.01]
    ratio = windows_ratio(levels, data, freq)
    best = (fit if len(fit) else coherent).assign(ratio=lambda f: f[METHOD].map(ratio))
    assert levels.winner == best.sort_values("ratio", kind="stable").iloc[0][METHOD]


def windows_ratio(levels, data, freq) -> pd.Series:
    """Per method: mean over cutoffs of the mean cell WRMSSE / none's, from `evaluate`."""
    preds = levels.predictions[levels.predictions[DATE] <= data.sell_through[DATE].max()]
    aggregates = aggregate_history(data.sell_through, levels.hierarchy, freq=freq)
    scores = score_levels(preds, levels.hierarchy, data.sell_through, aggregates, freq=freq,
                          per_cutoff=True)
    cells = scores.pivot_table(index=["cutoff", "level", "skus"], columns=METHOD,
                               values="wrmsse")
    ratio = cells.div(cells["none"], axis=0).groupby(level="cutoff").mean().mean()
    assert scores["cutoff"].nunique() == 2
    return ratio


def test_the_default_method_keeps_the_bottom_series_within_one_percent() -> None:
    summary = pd.DataFrame({METHOD: ["none", "mint_shrink", "bottom_up", "ols"],
                            "wrmsse_m5": [0.50, 0.48, 0.49, 0.49],
                            "wrmsse_bottom": [0.68, 0.70, 0.68, 0.685]})
    assert choose_method(summary) == "bottom_up"  # ties go to the earlier method
    assert choose_method(summary, bottom_tolerance=0.05) == "mint_shrink"
    worse = summary.assign(wrmsse_bottom=[0.5, 0.7, 0.7, 0.7])
    assert choose_method(worse) == "mint_shrink"  # none passes: every coherent method


def window_frame(cells: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """WRMSSE per method, cutoff and cell (node/sku, total/*): two cutoffs, one value each."""
    cutoffs = pd.to_datetime(["2024-01-05", "2024-03-01"])
    return pd.DataFrame([{METHOD: m, "cutoff": c, "level": level, "skus": kind, "wrmsse": v}
                         for m, values in cells.items() for c, v in zip(cutoffs, values,
                                                                        strict=True)
                         for level, kind in (("node", "sku"), ("total", "*"))])


def test_the_default_method_ranks_on_window_ratios_to_unreconciled() -> None:
    """Window 1 has ten times the errors: ols gains 5% there, wls_struct 20% in window 2.
    The mean WRMSSE (the old rule, still used without window scores) picks ols; the mean
    ratio to `none` per window picks wls_struct."""
    scores = window_frame({"none": (10.0, 1.0), "ols": (9.5, 1.0), "wls_struct": (10.0, 0.8)})
    means = scores.groupby(METHOD, sort=False)["wrmsse"].mean()
    summary = pd.DataFrame({METHOD: means.index, "wrmsse_m5": means.to_numpy(),
                            "wrmsse_bottom": means.to_numpy()})
    assert choose_method(summary) == "ols"
    assert choose_method(summary, window_scores=scores) == "wls_struct"
    no_none = scores[scores[METHOD] != "none"]
    assert choose_method(summary, window_scores=no_none) == "ols"  # nothing to divide by
    bad_bottom = summary.assign(wrmsse_bottom=[5.5, 5.25, 5.6])  # wls_struct's > 1% worse
    assert choose_method(bad_bottom, window_scores=scores) == "ols"


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
