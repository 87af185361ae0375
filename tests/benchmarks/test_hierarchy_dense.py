"""The helpers of benchmarks/hierarchy_dense.py on tiny hand-made cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchmarks.hierarchy_dense as dense_mod
from benchmarks.hierarchy import PEERS, cutoffs
from benchmarks.hierarchy_dense import MIN_HISTORY, H, cells_won, dense_cutoffs, usable

CUTS = cutoffs(143, 6)  # walmart's grid: [94, 102, 110, 118, 126, 134]


def test_dense_grid_is_aligned_on_the_scored_cutoffs() -> None:
    """Every 2 weeks back from the last usable cutoff, not before 60 weeks of history."""
    dense = dense_cutoffs(CUTS, 2)
    assert dense[-1] == CUTS[-1] - H and dense[0] >= MIN_HISTORY - 1
    assert dense[0] - 2 < MIN_HISTORY - 1 and set(np.diff(dense)) == {2}
    assert all(c - H in dense for c in CUTS[1:])  # the window ending at each scored cutoff
    assert dense_cutoffs(CUTS, 3, first=100) == [102, 105, 108, 111, 114, 117, 120, 123, 126]


def test_no_dense_window_reaches_past_the_scored_cutoff() -> None:
    """Window k uses a prefix of the grid whose 8 actuals all lie at or before cuts[k]."""
    dense = dense_cutoffs(CUTS, 1)
    for cut in CUTS[3:]:
        n = usable(dense, cut)
        assert dense[n - 1] + H == cut and (n == len(dense) or dense[n] + H > cut)


def test_every_eight_from_the_first_cutoff_is_the_benchmarks_history() -> None:
    """With `--every 8 --first cuts[0]` the dense windows are the benchmark's earlier ones."""
    dense = dense_cutoffs(CUTS, 8, first=CUTS[0])
    assert dense == CUTS[:-1]
    assert [usable(dense, CUTS[k]) for k in (3, 4, 5)] == [3, 4, 5]


def test_bad_arguments_say_what_to_change() -> None:
    """`--every` below 1 and a `--first` after the last usable cutoff are refused."""
    with pytest.raises(ValueError, match="--every"):
        dense_cutoffs(CUTS, 0)
    with pytest.raises(ValueError, match="--first"):
        dense_cutoffs(CUTS, 2, first=CUTS[-1])


def test_cells_won_counts_strict_wins_against_the_best_peer() -> None:
    """A tie with the best peer (also within float noise) loses; NaN cells (no sku groups)
    are not counted."""
    cols = ["wrmsse node/sku", "wrmsse total/*", "wrmsse node/group"]
    methods = ["none", *[f"ours_{m}" for m in dense_mod.OURS], *PEERS]
    values = {m: [2.0, 2.0, np.nan] for m in methods}
    values["hf_ols"] = [1.0, 1.0, np.nan]
    values["ours_wls_tuned"] = [0.9, 1.0, np.nan]  # wins node/sku, ties total/*
    values["ours_mint_shrink"] = [1.0 - 1e-9, 1.0 - 1e-9, np.nan]  # the same estimator
    index = pd.MultiIndex.from_tuples([("d", "b", m) for m in methods],
                                      names=["dataset", "base", "method"])
    scores = pd.DataFrame([values[m] for m in methods], index=index, columns=cols)
    won = cells_won(scores).loc[("d", "b")]
    assert won.loc["ours_wls_tuned", "won"] == 1 and won.loc["ours_wls_tuned", "of"] == 2
    assert won.loc["ours_bottom_up", "won"] == 0 and won.loc["ours_mint_shrink", "won"] == 0
    assert won.loc["ours_wls_tuned", "best peer"] == "hf_ols"
    assert np.isclose(won.loc["ours_wls_tuned", "bottom vs none"], 0.45)


def test_autoets_bases_are_fitted_once_per_cutoff(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A cutoff cached by another `--every` is reused, not refitted; reruns hit the cache."""
    fitted: list[int] = []

    def fake_peer(y: np.ndarray, cut: int) -> np.ndarray:
        fitted.append(cut)
        return np.full((y.shape[0], H), float(cut))

    monkeypatch.setattr(dense_mod, "OUT", tmp_path)
    monkeypatch.setattr(dense_mod, "ets_peer", fake_peer)
    monkeypatch.setattr(dense_mod, "uptime", lambda: "load")
    y = np.zeros((3, 40))
    first = dense_mod.dense_bases("d", y, [10, 12], "W", "autoets", 2, force=False)
    again = dense_mod.dense_bases("d", y, [10, 12], "W", "autoets", 2, force=False)
    finer = dense_mod.dense_bases("d", y, [10, 11, 12], "W", "autoets", 1, force=False)
    assert fitted == [10, 12, 11]
    assert [f[0, 0] for f in finer] == [10.0, 11.0, 12.0]
    assert np.array_equal(np.stack(first), np.stack(again))
