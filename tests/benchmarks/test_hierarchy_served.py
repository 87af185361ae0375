"""The served-choice rules of benchmarks/hierarchy_served.py on tiny hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.hierarchy_noise import PEERS, SCORED, CaseScores, served_picks
from benchmarks.hierarchy_served import (
    consistent,
    decide,
    mean_ratio,
    minimax,
    rule_picks,
    served_row,
    window_stats,
)
from models.hierarchy import COHERENT_METHODS

CELLS = {"node/sku": np.array([0, 1]), "total/*": np.array([2])}
Pair = tuple[float, float]


def make_case(score: dict[str, Pair], by_window: dict[tuple[str, int], Pair] | None = None
              ) -> CaseScores:
    """Windows 1..5, three series of weight 1 (two bottoms, the total); a method's RMSSE is
    (bottoms, total) from `by_window[method, w]`, else `score[method]`, else (2, 2)."""
    case = CaseScores(CELLS)
    for w in range(1, 6):
        case.weight[w] = np.ones(3)
        for m in ("none", *COHERENT_METHODS, *PEERS):
            bottom, total = (by_window or {}).get((m, w), score.get(m, (2.0, 2.0)))
            case.rmsse[m, w] = np.array([bottom, bottom, total])
    return case


def stats_of(case: CaseScores, windows: range = range(1, 3)) -> pd.DataFrame:
    """window_stats over `windows` (default 1..2, what window 3 is chosen from)."""
    return window_stats(case, windows)


def test_window_stats_averages_cells_and_divides_by_none_cell_by_cell() -> None:
    """avg = mean of the two cells; ratio = mean of the two cell ratios to none."""
    stats = stats_of(make_case({"none": (1.0, 4.0), "ols": (2.0, 2.0)}))
    assert stats.loc[("ols", 1), "avg"] == 2.0
    assert stats.loc[("ols", 1), "bottom"] == 2.0
    assert stats.loc[("ols", 1), "ratio"] == pytest.approx((2.0 + 0.5) / 2)
    assert stats.loc[("none", 2), "ratio"] == 1.0


def test_consistent_keeps_the_prior_unless_beaten_in_every_window() -> None:
    """Better by > 1% in both windows and guarded: switch; better in one window only, by
    only 0.5%, or with the bottom > 1% worse than none in one window: keep the prior."""
    base = {"none": (2.0, 2.0), "wls_struct": (2.0, 2.0)}
    assert consistent(stats_of(make_case({**base, "ols": (1.9, 1.9)})), "wls_struct") == "ols"
    once = make_case({**base, "ols": (1.0, 1.0)}, {("ols", 2): (2.5, 2.5)})
    assert consistent(stats_of(once), "wls_struct") == "wls_struct"
    small = make_case({**base, "ols": (1.99, 1.99)})
    assert consistent(stats_of(small), "wls_struct") == "wls_struct"
    bad_bottom = make_case({**base, "ols": (1.0, 1.0)}, {("ols", 1): (2.1, 0.5)})
    assert consistent(stats_of(bad_bottom), "wls_struct") == "wls_struct"
    two = make_case({**base, "ols": (1.9, 1.9), "mint_cv": (1.8, 1.9)})
    assert consistent(stats_of(two), "wls_mix") == "mint_cv"


def test_minimax_prefers_the_best_worst_window() -> None:
    """ols is best on the mean but has one bad window; wls_struct's worst is lower."""
    case = make_case({"none": (2.0, 2.0), "ols": (1.0, 1.0), "wls_struct": (1.8, 1.8)},
                     {("ols", 2): (2.5, 2.5)})
    assert minimax(stats_of(case)) == "wls_struct"
    assert served_picks(case)[SCORED[0]] == "ols"


def test_mean_ratio_does_not_let_a_large_window_dominate() -> None:
    """Window 1 has ten times the errors: ols gains 5% there, wls_struct 20% in window 2;
    on raw means ols wins, on ratios to none wls_struct."""
    every = dict.fromkeys(("none", *COHERENT_METHODS), (1.0, 1.0))
    window1 = {(m, 1): (10.0, 10.0) for m in every}
    case = make_case(every, {**window1, ("ols", 1): (9.5, 9.5), ("wls_struct", 2): (0.8, 0.8)})
    stats = stats_of(case)
    assert mean_ratio(stats) == "wls_struct"
    assert rule_picks(case)["R0"][SCORED[0]] == "ols"


def test_rule_picks_use_earlier_windows_only() -> None:
    """A method best only from window 3 on is not picked for window 3 by any rule."""
    case = make_case({"none": (2.0, 2.0), "wls_struct": (1.8, 1.8)},
                     {("ols", w): (1.0, 1.0) for w in (3, 4, 5)})
    picks = rule_picks(case)
    assert {p[SCORED[0]] for p in picks.values()} == {"wls_struct"}
    assert picks["R0"] == served_picks(case)


def test_served_row_counts_ties_as_losses() -> None:
    """Serving hf_ols's twin (same scores) wins no cell; a better total wins one."""
    case = make_case({"ols": (1.0, 1.0), "hf_ols": (1.0, 1.0), "wls_struct": (1.0, 0.5)})
    assert served_row(case, dict.fromkeys(SCORED, "ols"))["won"] == 0
    row = served_row(case, dict.fromkeys(SCORED, "wls_struct"))
    assert row["won"] == 1 and row["avg"] == pytest.approx(0.75)


def test_decide_needs_three_better_cases_and_no_large_loss() -> None:
    """R1 better in 3 of 4 and 0.4% worse in the 4th, R2 better in all 4: both qualify, R1
    has the better mean rank; R3 better in 3 but 1% worse in one: does not."""
    avg = pd.DataFrame({"a": [1.0, 0.9, 0.95, 0.9], "b": [1.0, 0.9, 0.95, 0.9],
                        "c": [1.0, 0.9, 0.95, 0.9], "d": [1.0, 1.004, 0.99, 1.01]},
                       index=["R0", "R1", "R2", "R3"])
    verdict, chosen = decide(avg)
    assert verdict["qualifies"].tolist() == [False, True, True, False]
    assert chosen == "R1"
    assert decide(avg.loc[["R0", "R3"]])[1] == "R0"
