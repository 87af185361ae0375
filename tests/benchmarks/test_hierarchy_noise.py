"""The helpers of benchmarks/hierarchy_noise.py on tiny hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.hierarchy_noise import (
    OURS,
    PEERS,
    SCORED,
    CaseScores,
    boot_class,
    bootstrap,
    cell_wrmsse,
    changes,
    classify,
    served_picks,
)
from models.hierarchy import COHERENT_METHODS

CELLS = {"node/sku": np.array([0, 1]), "total/*": np.array([2])}


Pair = tuple[float, float]


def make_case(score: dict[str, Pair], late: dict[str, Pair] | None = None) -> CaseScores:
    """Windows 1..5, three series of weight 1 (two bottoms, the total); a method's RMSSE is
    `score[method]` = (bottoms, total), or `late[method]` from the first scored window on;
    (2, 2) when not given."""
    case = CaseScores(CELLS)
    for w in range(1, 6):
        case.weight[w] = np.ones(3)
        for m in ("none", *COHERENT_METHODS, *PEERS):
            given = {**score, **(late or {})} if w in SCORED else score
            bottom, total = given.get(m, (2.0, 2.0))
            case.rmsse[m, w] = np.array([bottom, bottom, total])
    return case


def test_cell_wrmsse_weights_rmsse_by_units() -> None:
    """Weighted mean RMSSE per cell; a one-series cell is its own RMSSE."""
    rmsse, weight = np.array([1.0, 3.0, 5.0]), np.array([3.0, 1.0, 2.0])
    assert np.allclose(cell_wrmsse(rmsse, weight, CELLS), [1.5, 5.0])


def test_changes_counts_consecutive_switches_per_cell() -> None:
    """A B A is two changes; A A A none."""
    labels = np.array([["a", "x"], ["b", "x"], ["a", "x"]])
    assert changes(labels).tolist() == [2, 0]


def test_classify_uses_two_standard_errors_of_the_log_ratio() -> None:
    """Consistently 10% better: won; consistently worse: lost; mixed: noise; equal up to
    rounding: tie (and no win)."""
    peer = np.ones((3, 4))
    ours = np.array([[0.9, 1.1, 0.8, 1.0], [0.9, 1.1, 1.2, 1 - 1e-13], [0.89, 1.12, 1.0, 1.0]])
    table = classify(ours, peer)
    assert table["se_class"].tolist() == ["won", "lost", "noise", "tie"]
    assert table["wins"].tolist() == [3, 0, 1, 0]
    d = np.log(ours[:, 2])
    assert table["se"].iloc[2] == pytest.approx(np.std(d, ddof=1) / np.sqrt(3))


def test_bootstrap_shares_each_draw_between_methods() -> None:
    """A method 0.9 x another on every series has ratio 0.9 in every draw (same draw for
    both); identical methods tie; a one-series cell is flagged, not classified."""
    case = make_case({})
    base = np.array([1.0, 3.0, 2.0])
    for w in SCORED:
        case.weight[w] = np.array([1.0, 2.0, 1.0])
        for m in (*OURS, *PEERS):
            case.rmsse[m, w] = base * (0.9 if m == "wls_tuned" else 1.0)
    boot = bootstrap(case, [*OURS, *PEERS], 50, np.random.default_rng(1))
    assert boot["none"].shape == (50, 2) and boot["none"][:, 0].std() > 0
    peer = ["hf_ols", "hf_ols"]
    tuned = boot_class(case, boot, "wls_tuned", peer)
    assert np.allclose(tuned[["boot_lo", "boot_hi"]].to_numpy()[0], 0.9)
    assert tuned["boot_class"].tolist() == ["won", "1 series"]
    assert tuned["p_win_all"].tolist() == [1.0, 1.0]
    assert boot_class(case, boot, "mint_cv", peer)["boot_class"].tolist() == ["tie", "tie"]
    case.rmsse["mint_cv", SCORED[0]] = base * (1 + 1e-13)  # rounding, not a win or loss
    boot = bootstrap(case, [*OURS, *PEERS], 50, np.random.default_rng(1))
    rounded = boot_class(case, boot, "mint_cv", peer)
    assert rounded["boot_class"].tolist() == ["tie", "tie"]
    assert rounded["p_win_all"].tolist() == [0.0, 0.0]


def test_served_pick_uses_earlier_windows_and_the_bottom_guard() -> None:
    """wls_tuned is best overall but its bottoms are > 1% worse than none: not picked; a
    method that is best only from window 3 on is picked for window 5, not for window 3."""
    score = {"none": (1.0, 1.0), "wls_tuned": (1.02, 0.1), "ols": (1.0, 0.5),
             "wls_struct": (1.0, 0.6)}
    assert set(served_picks(make_case(score)).values()) == {"ols"}
    picks = served_picks(make_case(score, late={"wls_struct": (0.5, 0.0)}))
    assert picks[SCORED[0]] == "ols" and picks[SCORED[-1]] == "wls_struct"
