"""`auto`'s combination weights: per demand class, from earlier windows only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import BacktestConfig
from features.engineering.history import build_panel
from models.combine import weights_of
from models.lgbm import LGBMConfig
from tests.conftest import make_history, make_nodes
from training.engine.backtest import run_backtest
from training.engine.forecast import fit_forecaster
from training.engine.selection import MIN_CLASS_ROWS, Selector
from training.engine.windows import WindowForecasts, cutoffs

MODELS = ("lgbm", "ets", "snaive", "ma")


def _window(rng: np.random.Generator, cutoff: str, truth: dict[str, tuple[float, float, float]],
            classes: np.ndarray) -> WindowForecasts:
    S, h = len(classes), 4
    means = {m: rng.uniform(1.0, 30.0, (S, h)) for m in MODELS}
    actual = np.zeros((S, h))
    for cls, w in truth.items():
        sel = classes == cls
        actual[sel] = sum(wi * means[m][sel] for wi, m in zip(w, MODELS[:3], strict=True))
    return WindowForecasts(cutoff=pd.Timestamp(cutoff), t=0, means=means, actual=actual,
                           scale=rng.uniform(0.5, 2.0, S), classes=classes)


def test_auto_combines_lightgbm_ets_and_seasonal_naive_with_weights_per_class() -> None:
    rng = np.random.default_rng(0)
    classes = np.array(["smooth"] * 80 + ["lumpy"] * 70 + ["new"] * 10)
    truth = {"smooth": (0.8, 0.2, 0.0), "lumpy": (0.1, 0.1, 0.8), "new": (0.0, 1.0, 0.0)}
    selector = Selector(list(MODELS), shrink=0.0)
    assert selector.pool == ["lgbm", "ets", "snaive"]
    first = _window(rng, "2024-01-01", truth, classes)
    chosen, mean = selector.choose(first)
    assert set(chosen) == {"lgbm*0.3333+ets*0.3333+snaive*0.3333"}  # nothing learned yet
    selector.add(first, {})
    second = _window(rng, "2024-02-01", truth, classes)
    chosen, mean = selector.choose(second)
    smooth = weights_of(chosen[0])
    assert smooth["lgbm"] == 0.8 and smooth["ets"] == 0.2 and "snaive" not in smooth
    assert weights_of(chosen[100])["snaive"] == 0.8
    np.testing.assert_allclose(mean[:150], second.actual[:150], rtol=1e-3)
    # too few cells of class `new` (10 series x 4 steps): it borrows all classes' weights
    assert selector.class_n["new"] < MIN_CLASS_ROWS
    np.testing.assert_allclose(selector.weights("new"),
                               selector.weights("__all__"), atol=1e-12)


def test_without_two_of_the_combined_models_auto_combines_every_model() -> None:
    assert Selector(["ma", "croston", "lgbm"]).pool == ["ma", "croston", "lgbm"]


def test_the_served_auto_forecast_is_the_backtested_one() -> None:
    """`fit_forecaster` serves `auto` (means and quantiles) exactly as the backtest made it at
    the last period, after the same calibration windows."""
    history = make_history(n_nodes=3, n_items=4, weeks=60, seed=3)
    lgbm = LGBMConfig(max_rounds=30, num_leaves=7, min_data_in_leaf=5, num_threads=1)
    models = ("lgbm", "ets", "snaive", "ma", "auto")
    served = fit_forecaster(history, freq="W-MON", horizon=4, nodes=make_nodes(3),
                            models=models, lgbm=lgbm).predict()
    dates = build_panel(history, freq="W-MON").dates
    cuts = [*cutoffs(dates, horizon=4, windows=3, step=4), dates[-1]]
    config = BacktestConfig(horizon=4, windows=1, step=4, models=models, warmup=3, lgbm=lgbm)
    rows = run_backtest(history, freq="W-MON", config=config, nodes=make_nodes(3),
                        cutoffs=cuts).for_model("auto")
    assert served["model"].str.contains("lgbm*", regex=False).all()
    cols = ["mean", "q0.1", "q0.5", "q0.9"]
    np.testing.assert_allclose(served[cols].to_numpy(), rows[cols].to_numpy(), atol=1e-9)
