"""The helpers of benchmarks/hierarchy_served_many.py on tiny hand-made saved scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import benchmarks.hierarchy_served_many as served_many
from benchmarks.hierarchy import PEERS
from models.hierarchy import COHERENT_METHODS

SCORED = [10, 18, 26, 34, 42]


def saved(score: dict[str, float], late: dict[str, float]) -> pd.DataFrame:
    """A many_scores-like frame of one case: cells node/sku and total/* equal to
    `score[method]` (2 when not given), or `late[method]` from the 3rd scored cutoff on."""
    rows = []
    for i, cutoff in enumerate(SCORED):
        given = {**score, **late} if i >= 2 else score
        for m in ("none", *COHERENT_METHODS, *PEERS):
            v = given.get(m, 2.0)
            rows.append({"case": "toy + ours", "method": m, "cutoff": cutoff,
                         "node/sku": v, "total/*": v + 0.125})
    return pd.DataFrame(rows)


def test_saved_cases_return_the_saved_cells_exactly() -> None:
    """Each cell is one series of weight 1, so `cell` gives back the CSV's values."""
    case, scored = served_many.saved_cases(saved({"ols": 0.3}, {}))["toy + ours"]
    assert scored == SCORED and case.names == ["node/sku", "total/*"]
    assert case.cell("ols", 18).tolist() == [0.3, 0.425]
    assert case.stack("hf_ols", SCORED).shape == (5, 2)


def test_rule_picks_start_at_the_third_window_and_use_earlier_windows_only() -> None:
    """ols is best in windows 1-2 and worst after: every adaptive rule picks it for the 3rd
    window (its own window unseen); the references always serve their method."""
    frame = saved({"none": 1.0, "ols": 0.5, "wls_struct": 1.5}, {"ols": 3.0, "wls_struct": 0.0})
    case, scored = served_many.saved_cases(frame)["toy + ours"]
    picks = served_many.rule_picks(case, scored)
    assert set(picks) == {"R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7"}
    assert all(list(p) == SCORED[2:] for p in picks.values())
    assert {p[26] for r, p in picks.items() if r not in served_many.FIXED} == {"ols"}
    assert picks["R0"][34] == "wls_struct"
    assert set(picks["R6"].values()) == {"mint_cv"}


def test_served_row_scores_the_picks_against_the_peers_on_the_same_windows() -> None:
    """Serving hf_ols's twin wins no cell (ties lose); a better method wins both."""
    frame = saved({"ols": 1.0, "hf_ols": 1.0, "wls_struct": 0.5}, {})
    case, _ = served_many.saved_cases(frame)["toy + ours"]
    twin = served_many.served_row(case, dict.fromkeys(SCORED[2:], "ols"))
    assert twin["won"] == 0 and twin["vs best peer"] == pytest.approx(0.0)
    row = served_many.served_row(case, {26: "ols", 34: "wls_struct", 42: "wls_struct"})
    assert row["windows"] == 3 and row["switches"] == 1
    assert row["avg"] == pytest.approx(np.mean([1.0, 1.125, 0.5, 0.625, 0.5, 0.625]))
    assert row["picks"] == "ols/wls_struct/wls_struct"


def test_verdict_never_lets_a_reference_qualify() -> None:
    """R5 beats R0 everywhere but is a reference; R1 qualifies."""
    avg = pd.DataFrame({c: [1.0, 0.9, 1.1, 0.5] for c in "abcd"}, index=["R0", "R1", "R2", "R5"])
    out, chosen = served_many.verdict(avg)
    assert chosen == "R1"
    assert out["qualifies"].to_dict() == {"R0": False, "R1": True, "R2": False, "R5": False}
    assert out.loc["R5", "better than R0"] == 4
