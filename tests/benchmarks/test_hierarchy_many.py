"""The helpers of benchmarks/hierarchy_many.py on tiny hand-made cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import benchmarks.hierarchy_many as many
from benchmarks.hierarchy import PEERS, cutoffs
from benchmarks.hierarchy_dense import dense_cutoffs, usable
from benchmarks.hierarchy_noise import CaseScores
from models.hierarchy import COHERENT_METHODS

H = many.H
CELLS = {"node/sku": np.array([0, 1]), "total/*": np.array([2])}


@pytest.mark.parametrize(("periods", "first", "n"), [(143, 70, 9), (156, 75, 10)])
def test_scored_cutoffs_step_back_from_the_last_with_two_known_windows(
        periods: int, first: int, n: int) -> None:
    """walmart's and generated's grids: cuts[-1], cuts[-1] - 8, ... while >= 16 columns."""
    cuts = cutoffs(periods, 6)
    dense = dense_cutoffs(cuts, many.EVERY)
    scored = many.scored_cutoffs(cuts, dense)
    assert scored[0] == first and scored[-1] == cuts[-1] and len(scored) == n
    assert set(np.diff(scored)) == {H} and set(cuts) <= set(scored)
    assert H * usable(dense, scored[0]) >= many.MIN_COLUMNS
    assert H * usable(dense, scored[0] - H) < many.MIN_COLUMNS
    for s in scored:  # every residual window's actuals are known at the scored cutoff
        assert dense[usable(dense, s) - 1] + H <= s


def make_case(scored: list[int], score: dict[str, float], late: dict[str, float]
              ) -> CaseScores:
    """Three series of weight 1; a method's RMSSE is `score[method]` (2 when not given), or
    `late[method]` from the 3rd scored window on."""
    case = CaseScores(CELLS)
    for i, w in enumerate(scored):
        case.weight[w] = np.ones(3)
        given = {**score, **late} if i >= 2 else score
        for m in ("none", *COHERENT_METHODS, *PEERS):
            case.rmsse[m, w] = np.full(3, given.get(m, 2.0))
    return case


def test_served_pick_uses_only_earlier_scored_windows() -> None:
    """No pick before the 3rd window; a method best from the 3rd window on is not picked
    for the 3rd (its own window is not seen), but for the 4th, once ols's bottoms fail the
    1% guard."""
    scored = [10, 18, 26, 34, 42]
    case = make_case(scored, {"none": 1.0, "ols": 0.5, "wls_struct": 1.5},
                     {"ols": 3.0, "wls_struct": 0.0})
    picks = many.served_picks(case, scored)
    assert picks == {26: "ols", 34: "wls_struct", 42: "wls_struct"}


def test_compare_counts_ties_as_losses_and_classifies_paired_log_ratios() -> None:
    """Cell 0: always 10% below the best peer (clearly won, 3 of 3); cell 1: a float-noise
    tie with it (not won)."""
    peers = {p: np.full((3, 2), 2.0) for p in PEERS}
    peers["hf_ols"] = np.array([[1.0, 1.0], [1.2, 1.0], [0.9, 1.0]])
    ours = np.array([[0.9, 1.0], [1.08, 1.0], [0.81, 1.0 - 1e-12]])
    out = many.compare(ours, peers, ["a", "b"])
    assert out["peer"].tolist() == ["hf_ols", "hf_ols"]
    assert out["won"].tolist() == [True, False] and out["won_wide"].tolist() == [True, False]
    assert out["se_class"].tolist() == ["won", "tie"] and out["wins"].tolist() == [3, 0]
    assert out.loc["a", "mean_d"] == pytest.approx(np.log(0.9))


def test_case_tables_score_served_on_its_own_windows() -> None:
    """The served row covers the windows from the 3rd on; bottom vs none is a ratio."""
    scored = [10, 18, 26, 34]
    case = make_case(scored, {"none": 1.0, "ols": 0.5, "hf_ols": 0.6}, {})
    summary, detail = many.case_tables(case, scored, many.served_picks(case, scored))
    assert summary.loc["served", "windows"] == 2 and summary.loc["none", "windows"] == 4
    assert summary.loc["served", "won"] == 2 and summary.loc["served", "clearly won"] == 2
    assert summary.loc["served", "bottom vs none"] == pytest.approx(0.5)
    assert summary.loc["none", "best peer"] == "hf_ols"
    assert detail.loc[("served", "total/*"), "wins"] == 2


def test_ours_rerun_is_cached_and_used_only_where_the_dense_cache_differs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun reproducing the dense cache adds its last cutoff only; otherwise it replaces
    every cutoff; a second call reads the cache."""
    calls: list[list[int]] = []

    def fake_base(y: np.ndarray, cuts: list[int], freq: str) -> list[np.ndarray]:
        calls.append(cuts)
        assert y.shape == (2, 40) and freq == "W"
        return [np.full((2, H), float(c)) for c in cuts]

    monkeypatch.setattr(many, "OUT", tmp_path)
    monkeypatch.setattr(many, "ours_base", fake_base)
    monkeypatch.setattr(many, "uptime", lambda: "load")
    (tmp_path / "d").mkdir()
    y = np.zeros((2, 40))
    dense = {10: np.full((2, H), 10.0), 12: np.full((2, H), 10.0)}
    out = many.ours_through("d", y, [10, 12, 20], "W", dense)
    assert out[12][0, 0] == 12.0 and out[20][0, 0] == 20.0  # 12 differed: the rerun
    dense[12] = np.full((2, H), 12.0)
    out = many.ours_through("d", y, [10, 12, 20], "W", dense)
    assert out[12] is dense[12] and out[20][0, 0] == 20.0
    assert calls == [[10, 12, 20]]


def test_missing_dense_cache_says_how_to_make_it(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """No refit here: the error names the file and the command that fills it."""
    monkeypatch.setattr(many, "OUT", tmp_path)
    with pytest.raises(FileNotFoundError, match="hierarchy_dense.py --bases-only"):
        many.checked_dense("d", np.zeros((2, 40)), [10, 12], "W", "ours")
