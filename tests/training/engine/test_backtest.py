"""The backtest: complete predictions file, no look-ahead, oracle cases, choice from the past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.config import BacktestConfig
from features.schema import DATE, ITEM, NODE, UNITS
from models.lgbm import LGBMConfig
from tests.conftest import make_history, make_nodes
from training.engine.backtest import run_backtest

FAST_LGBM = LGBMConfig(max_rounds=30, num_leaves=7, min_data_in_leaf=5, num_threads=1)
CONFIG = BacktestConfig(horizon=4, windows=2, step=4, warmup=1, season=4,
                        models=("lgbm", "snaive", "croston", "ma", "auto"), lgbm=FAST_LGBM)


def _history(weeks: int = 40) -> pd.DataFrame:
    return make_history(n_nodes=3, n_items=4, weeks=weeks, seed=3)


def test_predictions_cover_every_series_cutoff_and_step() -> None:
    history = _history()
    res = run_backtest(history, freq="W-MON", config=CONFIG, nodes=make_nodes(3))
    preds = res.for_model("auto")
    assert list(preds.columns) == [NODE, ITEM, "cutoff", DATE, "mean", "q0.1", "q0.5", "q0.9"]
    n_series = history.groupby([NODE, ITEM]).ngroups
    assert len(preds) == n_series * CONFIG.windows * CONFIG.horizon
    assert preds.groupby("cutoff")[[NODE, ITEM]].apply(lambda f: len(f.drop_duplicates())
                                                       ).eq(n_series).all()
    values = preds[["mean", "q0.1", "q0.5", "q0.9"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (preds["q0.1"] <= preds["q0.5"]).all() and (preds["q0.5"] <= preds["q0.9"]).all()
    assert set(res.predictions["model"]) == set(CONFIG.models)


def test_changing_the_future_does_not_change_forecasts_at_earlier_cutoffs() -> None:
    history = _history()
    base = run_backtest(history, freq="W-MON", config=CONFIG, nodes=make_nodes(3))
    first_cut = base.predictions["cutoff"].min()
    perturbed = history.copy()
    after = perturbed[DATE] > first_cut
    perturbed.loc[after, UNITS] = perturbed.loc[after, UNITS] * 7 + 3
    again = run_backtest(perturbed, freq="W-MON", config=CONFIG, nodes=make_nodes(3))
    cols = ["mean", "q0.1", "q0.5", "q0.9"]
    a = base.predictions[base.predictions["cutoff"] == first_cut].reset_index(drop=True)
    b = again.predictions[again.predictions["cutoff"] == first_cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(a[cols], b[cols])
    later = base.predictions["cutoff"] > first_cut
    assert not np.allclose(base.predictions.loc[later, "mean"],
                           again.predictions.loc[later.to_numpy(), "mean"])


@pytest.mark.parametrize("model", ["snaive", "croston", "ma"])
def test_constant_series_forecast_constant(model: str) -> None:
    history = _history()
    history[UNITS] = 5.0
    cfg = BacktestConfig(horizon=4, windows=1, step=4, warmup=1, season=4, models=(model,))
    preds = run_backtest(history, freq="W-MON", config=cfg).for_model(model)
    np.testing.assert_allclose(preds["mean"], 5.0 if model != "croston" else 5.0 * 0.95)


def test_all_zero_series_forecast_zero() -> None:
    history = _history()
    history[UNITS] = 0.0
    cfg = BacktestConfig(horizon=4, windows=1, step=4, warmup=1, season=4,
                         models=("snaive", "croston", "ma", "auto"))
    preds = run_backtest(history, freq="W-MON", config=cfg).predictions
    assert (preds[["mean", "q0.1", "q0.5", "q0.9"]].to_numpy() == 0).all()


def test_series_launched_after_a_cutoff_still_get_a_forecast() -> None:
    history = _history()
    late = (history[NODE] == "N0") & (history[ITEM] == "S0")
    history = history[~late | (history[DATE] > history[DATE].max() - pd.Timedelta(weeks=3))]
    res = run_backtest(history, freq="W-MON", config=CONFIG, nodes=make_nodes(3))
    rows = res.for_model("lgbm")
    rows = rows[(rows[NODE] == "N0") & (rows[ITEM] == "S0")]
    assert len(rows) == CONFIG.windows * CONFIG.horizon
    assert (rows["mean"] == 0).all()


def test_auto_choice_uses_only_earlier_windows() -> None:
    res = run_backtest(_history(), freq="W-MON", config=CONFIG, nodes=make_nodes(3))
    assert res.choices is not None
    cuts = sorted(res.choices["cutoff"].unique())
    assert len(cuts) == CONFIG.windows + CONFIG.warmup
    first = res.choices[res.choices["cutoff"] == cuts[0]]["chosen"]
    # before any window there is no error to learn from: the combined models weigh the same
    assert set(first) == {"lgbm*0.5+snaive*0.5"}
    later = res.choices[res.choices["cutoff"] == cuts[1]]["chosen"]
    assert set(later) != {"lgbm*0.5+snaive*0.5"}  # learned from the first window


def test_lgbm_refit_every_reuses_the_last_booster_between_refits(
        lgbm_fits: list[pd.Timestamp]) -> None:
    """Weekly cutoffs, refit every 3 periods: fits at cutoffs 0, 3, 6 only; a cutoff in
    between forecasts with the booster of the latest earlier fit from its own features, and
    a refit at every cutoff (the default) still fits every time."""
    history = _history(weeks=44)
    cfg = BacktestConfig(horizon=4, windows=6, step=1, warmup=2, season=4,
                         models=("lgbm", "ma"), lgbm=FAST_LGBM, lgbm_refit_every=3)
    res = run_backtest(history, freq="W-MON", config=cfg, nodes=make_nodes(3))
    cuts = [w.cutoff for w in res.windows]  # 2 warm-up + 6 scored
    assert len(cuts) == 8
    assert lgbm_fits == cuts[::3]
    lgbm = res.for_model("lgbm")
    assert lgbm[lgbm["cutoff"] == cuts[4]]["mean"].ne(
        lgbm[lgbm["cutoff"] == cuts[3]]["mean"].to_numpy()).any()  # new origin, new features

    lgbm_fits.clear()
    every = BacktestConfig(horizon=4, windows=6, step=1, warmup=2, season=4,
                           models=("lgbm", "ma"), lgbm=FAST_LGBM)
    again = run_backtest(history, freq="W-MON", config=every, nodes=make_nodes(3))
    assert lgbm_fits == cuts
    same = again.for_model("lgbm")
    for c in cuts[3::3]:  # the scored refit cutoffs give the same forecasts either way
        np.testing.assert_allclose(lgbm[lgbm["cutoff"] == c]["mean"],
                                   same[same["cutoff"] == c]["mean"])
    with pytest.raises(ValueError, match="lgbm_refit_every"):
        run_backtest(history, freq="W-MON", config=BacktestConfig(lgbm_refit_every=0))
