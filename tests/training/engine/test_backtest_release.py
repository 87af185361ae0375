"""The backtest uses a residual only once its target period has passed (cutoffs closer than
the horizon), and releasing whole windows gives exactly the eager results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.config import BacktestConfig
from features.schema import DATE, UNITS
from tests.conftest import make_history, make_nodes
from training.engine.backtest import WindowForecasts, run_backtest
from training.engine.selection import Selector

MODELS = ("snaive", "croston", "ma", "tsb", "auto")
WEEKLY = BacktestConfig(horizon=4, windows=6, step=1, warmup=3, season=4, models=MODELS,
                        quantiles=(0.1, 0.5, 0.9))


def _weekly(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    dates = pd.DatetimeIndex(sorted(history[DATE].unique()))
    res = run_backtest(history, freq="W-MON", config=WEEKLY, nodes=make_nodes(3),
                       cutoffs=list(dates[24:33]))
    return res.predictions, res.choices


@pytest.mark.parametrize("cut_index", [27, 30])
def test_weekly_cutoffs_never_see_actuals_after_their_cutoff(cut_index: int) -> None:
    history = make_history(n_nodes=3, n_items=4, weeks=40, seed=3)
    cut = pd.DatetimeIndex(sorted(history[DATE].unique()))[cut_index]
    base_preds, base_choices = _weekly(history)
    perturbed = history.copy()
    after = perturbed[DATE] > cut
    perturbed.loc[after, UNITS] = perturbed.loc[after, UNITS] * 5 + 7
    preds, choices = _weekly(perturbed)
    assert base_choices is not None and choices is not None
    for frame in (base_preds, preds):
        assert cut in set(frame["cutoff"])
    cols = ["mean", "q0.1", "q0.5", "q0.9"]
    at = base_preds["cutoff"] <= cut
    pd.testing.assert_frame_equal(base_preds.loc[at, cols].reset_index(drop=True),
                                  preds.loc[at.to_numpy(), cols].reset_index(drop=True))
    at = base_choices["cutoff"] <= cut
    assert base_choices.loc[at, "chosen"].tolist() == choices.loc[at.to_numpy(),
                                                                  "chosen"].tolist()
    later = base_preds["cutoff"] > cut
    if later.any():  # the perturbation is seen as soon as it is known
        assert not np.allclose(base_preds.loc[later, "q0.9"], preds.loc[later.to_numpy(), "q0.9"])


def test_first_weekly_windows_still_get_spread_from_the_steps_already_known() -> None:
    history = make_history(n_nodes=3, n_items=4, weeks=40, seed=3)
    preds, _ = _weekly(history)
    first = preds[preds["cutoff"] == preds["cutoff"].min()]
    assert (first["q0.9"] > first["q0.1"]).any()
    assert (first["q0.1"] <= first["q0.5"]).all() and (first["q0.5"] <= first["q0.9"]).all()


def test_final_calibrators_hold_every_known_residual() -> None:
    history = make_history(n_nodes=3, n_items=4, weeks=40, seed=3)
    dates = pd.DatetimeIndex(sorted(history[DATE].unique()))
    res = run_backtest(history, freq="W-MON", config=WEEKLY, cutoffs=list(dates[24:33]))
    pools = res.calibrators["ma"].pools
    n_series = 12
    for k in range(WEEKLY.horizon):  # every window's step k whose target is in the data
        known = sum(1 for t in range(24, 33) if t + k + 1 < len(dates))
        assert sum(len(a) for a in pools[(k, "*")]) == known * n_series


def _window(rng: np.random.Generator, cutoff: str) -> tuple[WindowForecasts, dict]:
    S, h = 30, 4
    actual = rng.poisson(5.0, (S, h)).astype(float)
    actual[:3, 2:] = np.nan  # a series that stops inside the window
    means = {m: rng.uniform(2, 8, (S, h)) for m in ("ma", "croston")}
    w = WindowForecasts(cutoff=pd.Timestamp(cutoff), t=0, means=means, actual=actual,
                        scale=rng.uniform(0.5, 2.0, S),
                        classes=np.where(np.arange(S) % 2 == 0, "smooth", "lumpy"))
    quants = {m: {q: v + (q - 0.5) * 4 for q in (0.1, 0.5, 0.9)} for m, v in means.items()}
    return w, quants


def test_selector_evidence_released_step_by_step_ends_as_one_whole_window() -> None:
    rng = np.random.default_rng(0)
    windows = [_window(rng, f"2024-0{i + 1}-01") for i in range(3)]
    whole, stepwise = Selector(["ma", "croston"]), Selector(["ma", "croston"])
    for w, q in windows:
        whole.add(w, q)
    for known in (1, 2, 3, 4):
        for w, q in windows:
            stepwise.add(w, q, known=known)
    assert set(stepwise.class_loss) == set(whole.class_loss) == {"smooth", "lumpy"}
    for cls in whole.class_loss:
        np.testing.assert_allclose(stepwise.class_loss[cls], whole.class_loss[cls],
                                   rtol=1e-10, atol=1e-9)
        assert stepwise.class_n[cls] == pytest.approx(whole.class_n[cls])
        np.testing.assert_allclose(stepwise.weights(cls), whole.weights(cls), atol=1e-9)
    part = Selector(["ma", "croston"])
    part.add(*windows[0], known=1)
    w = windows[0][0]
    assert sum(part.class_n.values()) == (~np.isnan(w.actual[:, :1])).sum()
