"""Tiny hand-computed cases for every metric of the evaluation protocol (BENCHMARKS.md).

Grid: 6 months. Series A = 1 3 2 4 6 5, series B = 0 0 0 2 0 1. Cutoffs March (index 2) and
April (index 3), horizon 2. The comments give each number as computed by hand.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from training.engine.metrics import METRICS, evaluate, format_table

MONTHS = pd.date_range("2024-01-01", periods=6, freq="MS")
UNITS: dict[str, list[float]] = {"A": [1, 3, 2, 4, 6, 5], "B": [0, 0, 0, 2, 0, 1]}
# (series, cutoff index): (mean, q0.1, q0.5, q0.9), the same for both target months
FORECASTS: dict[tuple[str, int], tuple[float, ...]] = {
    ("A", 2): (3, 2, 3, 5),
    ("A", 3): (4, 3, 4, 7),
    ("B", 2): (1, 0, 1, 1),
    ("B", 3): (1, 0, 1, 2),
}


def _history(units: dict[str, list[float]] = UNITS) -> pd.DataFrame:
    return pd.DataFrame([
        {"node_id": "N", "sku": sku, "date": MONTHS[t], "units": float(v)}
        for sku, values in units.items() for t, v in enumerate(values)
    ])


def _preds(forecasts: dict[tuple[str, int], tuple[float, ...]] = FORECASTS) -> pd.DataFrame:
    rows = []
    for (sku, c), (mean, q1, q5, q9) in forecasts.items():
        for step in (1, 2):
            rows.append({"node_id": "N", "sku": sku, "cutoff": MONTHS[c],
                         "date": MONTHS[c + step], "mean": float(mean), "q0.1": float(q1),
                         "q0.5": float(q5), "q0.9": float(q9), "model": "m"})
    return pd.DataFrame(rows)


def _score(preds: pd.DataFrame | None = None, history: pd.DataFrame | None = None,
           **kwargs: Any) -> pd.Series:
    out = evaluate(_preds() if preds is None else preds,
                   _history() if history is None else history, freq="MS", **kwargs)
    assert len(out) == 1
    return out.iloc[0]


def test_wape_bias_coverage_by_hand() -> None:
    got = _score()
    # |errors|: A 1 3 2 1, B 1 1 1 0 -> 10; actuals sum to 24; mean - y sums to -6
    assert got["wape"] == pytest.approx(10 / 24)
    assert got["bias"] == pytest.approx(-6 / 24)
    # outside [q0.1, q0.9]: A's 6 at March (> 5) and B's 2 at March (> 1)
    assert got["coverage"] == pytest.approx(6 / 8)
    assert (got["n_series"], got["n_rows"], got["n_unscored"]) == (2, 8, 0)


def test_wrmsse_by_hand() -> None:
    # March: B's history 0 0 0 has scale 0 and is left out, so A weighs 1:
    #   A: mse (1 + 9) / 2 = 5, scale (4 + 1) / 2 = 2.5 -> sqrt(2)
    # April: weights from units in Mar..Apr: A 2 + 4 = 6, B 0 + 2 = 2
    #   A: mse (4 + 1) / 2, scale (4 + 1 + 4) / 3; B: mse 1 / 2, scale 4 / 3
    april = 0.75 * math.sqrt(2.5 / 3) + 0.25 * math.sqrt(0.5 / (4 / 3))
    assert _score()["wrmsse"] == pytest.approx((math.sqrt(2) + april) / 2)


def test_mase_by_hand() -> None:
    # A March: mae 2 / (3/2); A April: mae 1.5 / (5/3); B April: mae 0.5 / (2/3); B March out
    assert _score()["mase"] == pytest.approx((4 / 3 + 0.9 + 0.75) / 3)


def test_scaled_pinball_by_hand() -> None:
    # A March: pinball sums over q .1/.5/.9: y=4 -> .2+.5+.1, y=6 -> .4+1.5+.9; mean 3.6/6
    #   = 0.6, / scale 1.5 = 0.4
    # A April: y=6 -> .3+1+.1, y=5 -> .2+.5+.2; 2.3/6 / (5/3) = 0.23
    # B April: y=0 -> 0+.5+.2, y=1 -> .1+0+.1; 0.9/6 / (2/3) = 0.225
    april = 0.75 * 0.23 + 0.25 * 0.225
    assert _score()["scaled_pinball"] == pytest.approx((0.4 + april) / 2)


def test_perfect_forecast_scores_zero_error_and_full_coverage() -> None:
    preds = _preds()
    actual = _history().set_index(["sku", "date"])["units"]
    truth = actual.reindex(pd.MultiIndex.from_frame(preds[["sku", "date"]])).to_numpy()
    preds[["mean", "q0.1", "q0.5", "q0.9"]] = np.repeat(truth[:, None], 4, axis=1)
    got = _score(preds)
    for name in ("wape", "wrmsse", "mase", "scaled_pinball", "bias"):
        assert got[name] == pytest.approx(0.0)
    assert got["coverage"] == 1.0


def test_by_step_and_by_model_columns() -> None:
    out = evaluate(_preds(), _history(), freq="MS", by=["model", "step"])
    assert list(out.columns) == ["model", "step", "n_series", "n_rows", "n_unscored", *METRICS]
    assert out["step"].tolist() == [1, 2]
    # step 1 errors: A 1, 2; B 1, 1 over actuals 4 + 6 + 2 + 0
    assert out.loc[out["step"] == 1, "wape"].item() == pytest.approx(5 / 12)


def test_scales_use_only_history_up_to_the_cutoff() -> None:
    march = _preds({("A", 2): (3, 2, 3, 5)})
    before = _score(march)
    # June is after March's targets
    changed: dict[str, list[float]] = {"A": [1, 3, 2, 4, 6, 500], "B": UNITS["B"]}
    after = _score(march, _history(changed))
    pd.testing.assert_series_equal(before, after)
    assert before["mase"] == pytest.approx(2 / 1.5)


def test_gap_inside_a_series_counts_as_zero() -> None:
    history = _history()
    gap = history[~((history["sku"] == "A") & (history["date"] == MONTHS[4]))]
    zero = _history({"A": [1, 3, 2, 4, 0, 5], "B": UNITS["B"]})
    pd.testing.assert_series_equal(_score(history=gap), _score(history=zero))


def test_periods_after_a_series_ends_are_excluded_or_zero() -> None:
    history = _history()
    ended = history[~((history["sku"] == "A") & (history["date"] >= MONTHS[4]))]
    excluded = _score(history=ended)
    assert (excluded["n_rows"], excluded["n_unscored"]) == (5, 3)
    # scored: A April 4 (err 1); B 2, 0, 0, 1 (errs 1, 1, 1, 0)
    assert excluded["wape"] == pytest.approx(4 / 7)
    zero = _score(history=ended, outside_span="zero")
    assert (zero["n_rows"], zero["wape"]) == (8, pytest.approx((1 + 3 + 4 + 4 + 3) / 7))


def test_format_table_lists_metrics() -> None:
    text = format_table(evaluate(_preds(), _history(), freq="MS", by=["model"]))
    assert text.splitlines()[0].split() == ["model", "n_series", "n_rows", "n_unscored",
                                            *METRICS]
    assert "0.417" in text  # WAPE 10 / 24


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: p.drop(columns="q0.9"), "q0.9"),
        (lambda p: p.assign(sku="Z"), "not in `history`"),
        (lambda p: p.assign(date=p["cutoff"]), "after its `cutoff`"),
        (lambda p: p.assign(date=p["date"] + pd.Timedelta(days=3)), "off the MS grid"),
    ],
)
def test_bad_predictions_are_refused(change, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate(change(_preds()), _history(), freq="MS")


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="`by`"):
        evaluate(_preds(), _history(), freq="MS", by=["series_class"])
    with pytest.raises(ValueError, match="`outside_span`"):
        evaluate(_preds(), _history(), freq="MS", outside_span="drop")  # type: ignore[arg-type]


def test_by_cutoff_reports_each_origin() -> None:
    out = evaluate(_preds(), _history(), freq="MS", by=["cutoff"])
    assert out["cutoff"].tolist() == [MONTHS[2], MONTHS[3]]
    # March: only A is scored (B's scale is 0), so WRMSSE is A's RMSSE sqrt(2)
    assert out["wrmsse"].iloc[0] == pytest.approx(math.sqrt(2))
