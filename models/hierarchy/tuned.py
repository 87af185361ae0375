"""`wls_tuned`: MinTrace with a diagonal W from a family, tuned on held-out backtest windows.

W_ii = m_c(i) * struct_i^a * var_i^b: struct_i the number of bottom series under series i,
var_i the mean square of its base errors, c(i) its cell (level x sku kind: `sku`, `group`
or `*`) and m_c one multiplier per cell (the bottom cell's is 1: only ratios matter).
(a, b) = (1, 0) is wls_struct, (0, 0) ols, (0, 1) wls_var (with mean squares); a small
multiplier keeps a cell near its base forecast (its errors are trusted), a large one lets
it move (bottom-up as m -> infinity). The result may then be averaged with bottom-up or
mint_shrink (share 0.25 or 0.5): coherent, as any average of coherent forecasts.

A reconciled forecast's error on coherent actuals is S G e, so a candidate is scored on
residuals alone: the backtest windows (column blocks, a new one where the horizon step
restarts) are split into two halves; var (and mint_shrink's W) is estimated on one half
and the reconciled errors taken on the other (and the other way round). Score: per window
and cell, the weighted sum of each series' RMSE (`weights`: M5's w_i / sqrt(scale_i) / sum
of w in the cell gives WRMSSE exactly; default 1 / the cell's summed base RMSE, a ratio to
unreconciled), averaged over cells and windows as M5 averages levels. Search: the best
(a, b) of `EXPONENTS` with every multiplier 1, then coordinate moves of each cell's
multiplier by factors of 2, then the averages. A step is kept only if it lowers the score
by more than `MIN_GAIN` (relative) and the end point only if it beats wls_struct by more
than `PRIOR_GAIN`: with weak evidence the method stays at wls_struct. Candidates whose
held-out bottom score is more than `BOTTOM_TOLERANCE` worse than unreconciled are not
allowed (wls_struct, the prior, always is).

Each candidate costs one sparse LU of C W C' (projection.fit_diagonal), not a dense
Cholesky: tens of candidates fit in seconds at 30,000 bottom series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from features.schema import ITEM
from models.hierarchy.covariance import covariance_for
from models.hierarchy.projection import BottomMap, fit_diagonal, fit_projection
from models.hierarchy.select import Blend, row_rms
from models.hierarchy.structure import ALL_SKUS, LEVELS, Hierarchy

__all__ = ["BOTTOM_TOLERANCE", "EXPONENTS", "MAX_EVALUATIONS", "MIN_GAIN", "PARTNERS",
           "PRIOR_GAIN", "SHARES", "HeldOutScorer", "TunedWls", "blend_of", "blocks_of",
           "cell_codes", "cell_names", "coordinate_search", "fit_tuned", "halves",
           "second_moment", "tune_wls"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: A fold: (columns the variances are estimated on, columns scored).
Fold = tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]
#: (a, b) tried first: wls_struct (the start), ols, wls_var and mixtures.
EXPONENTS = ((1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (0.5, 0.5), (1.0, 0.5), (0.5, 0.0))
MIN_GAIN = 1e-3
PRIOR_GAIN = 1e-2
BOTTOM_TOLERANCE = 1.005
#: Multiplier moves per cell and pass (factor 2 each), and passes over the cells.
MAX_MOVES = 4
PASSES = 2
#: Cap on held-out evaluations (each one or two sparse LUs): bounds the time at scale.
MAX_EVALUATIONS = 60
#: Reconciliations the tuned W may be averaged with, and the shares tried.
PARTNERS = ("bottom_up", "mint_shrink")
SHARES = (0.25, 0.5)
KINDS = ("sku", "group", ALL_SKUS)


def cell_codes(hierarchy: Hierarchy) -> IntArray:
    """Cell of each series: index of (level, sku kind) in `cell_names` order."""
    sku = hierarchy.keys[ITEM].astype(str)
    real = set(sku.iloc[: hierarchy.n_bottom])
    kind = np.where(sku == ALL_SKUS, 2, np.where(sku.isin(real), 0, 1))
    level = hierarchy.level_codes()
    return np.asarray(level * len(KINDS) + kind, dtype=np.int64)


def cell_names() -> list[str]:
    """`level/kind` of each cell code (e.g. `parent/*`)."""
    return [f"{lv}/{k}" for lv in LEVELS for k in KINDS]


@dataclass(frozen=True)
class TunedWls:
    """A point of the family: exponents (a, b) and a multiplier per cell code."""

    a: float
    b: float
    multipliers: dict[int, float] = field(default_factory=dict)
    partner: str = ""
    share: float = 0.0

    def diag(self, struct: FloatArray, var: FloatArray, cells: IntArray) -> FloatArray:
        """W's diagonal for series with `struct`, `var` and `cells`."""
        mult = np.ones(int(cells.max()) + 1)
        for cell, m in self.multipliers.items():
            mult[cell] = m
        return np.asarray(mult[cells] * struct**self.a * var**self.b, dtype=np.float64)

    def moved(self, cell: int, factor: float) -> TunedWls:
        """The same point with cell `cell`'s multiplier times `factor`."""
        mult = {**self.multipliers, cell: self.multipliers.get(cell, 1.0) * factor}
        return replace(self, multipliers=mult)

    @property
    def name(self) -> str:
        """E.g. `wls_tuned(a=1, b=0.5; parent/*: 0.25, total/*: 0.125)`."""
        names = cell_names()
        moved = ", ".join(f"{names[c]}: {m:g}" for c, m in sorted(self.multipliers.items())
                          if m != 1.0)
        mix = f" + {self.share:g} {self.partner}" if self.partner else ""
        return f"wls_tuned(a={self.a:g}, b={self.b:g}" + (f"; {moved})" if moved else ")") + mix


def blocks_of(steps: IntArray | None, m: int) -> IntArray:
    """Window index of each residual column: a new window where the step does not grow
    (without steps: the two halves of the columns)."""
    if steps is None or m == 0:
        return np.asarray(np.arange(m) >= m // 2, dtype=np.int64)
    restart = np.r_[False, np.diff(np.asarray(steps)) <= 0]
    return np.asarray(np.cumsum(restart), dtype=np.int64)


def second_moment(residuals: FloatArray) -> FloatArray:
    """Mean square of each row (a bias counts as error), floored above 0."""
    ms = row_rms(residuals) ** 2
    known = ms[np.isfinite(ms) & (ms > 0)]
    tiny = 1e-8 * float(known.mean()) if known.size else 1e-8
    return np.asarray(np.where(np.isfinite(ms) & (ms > tiny), ms, tiny), dtype=np.float64)


def halves(blocks: IntArray) -> list[Fold]:
    """The two folds (fit columns, test columns): the first half of the windows -> the
    second, and the other way round."""
    ids = np.unique(blocks)
    half = [ids[: ids.size // 2], ids[ids.size // 2:]]
    return [(np.isin(blocks, fit), np.isin(blocks, test)) for fit, test in (half, half[::-1])]


class HeldOutScorer:
    """Held-out scores of candidates (module doc): cell x window weighted RMSE sums over the
    windows the `folds` test (default `halves`: every window)."""

    def __init__(self, hierarchy: Hierarchy, residuals: FloatArray, blocks: IntArray,
                 weights: FloatArray | None, folds: list[Fold] | None = None) -> None:
        self.hierarchy, self.residuals, self.blocks = hierarchy, residuals, blocks
        self.filled = np.nan_to_num(residuals)
        self.cells = cell_codes(hierarchy)
        self.bottom_cell = int(self.cells[0])
        self.struct = np.asarray(hierarchy.summing.sum(axis=1), dtype=np.float64).ravel()
        self.folds = halves(blocks) if folds is None else folds
        self.tested = np.logical_or.reduce([test for _, test in self.folds])
        self.var = [second_moment(residuals[:, fit]) for fit, _ in self.folds]
        if weights is None:
            base = np.nan_to_num(row_rms(residuals))
            per_cell = np.bincount(self.cells, weights=base)
            weights = np.divide(1.0, per_cell[self.cells], out=np.zeros_like(base),
                                where=per_cell[self.cells] > 0)
        self.weights = np.nan_to_num(np.asarray(weights, dtype=np.float64))
        self.present = np.unique(self.cells[self.weights > 0])
        self.base = self.table(self.filled)
        self.evaluations = 0
        self._partners: dict[str, FloatArray] = {}

    def table(self, errors: FloatArray) -> FloatArray:
        """(n_cells, n_windows) weighted RMSE sums of `errors` (columns as the residuals)."""
        errors = np.where(np.isnan(self.residuals), np.nan, errors)
        ids = np.unique(self.blocks[self.tested])
        rms = np.stack([np.nan_to_num(row_rms(errors[:, self.blocks == k])) for k in ids],
                       axis=1)
        n_cells = int(self.cells.max()) + 1
        return np.stack([np.bincount(self.cells, weights=self.weights * rms[:, j],
                                     minlength=n_cells) for j in range(ids.size)], axis=1)

    def partner(self, name: str) -> FloatArray:
        """Held-out reconciled errors of a mixing partner or peer (`bottom_up`, or a
        covariance of `covariance_for`, fitted on each fold)."""
        if name not in self._partners:
            s, n_b = self.hierarchy.summing, self.hierarchy.n_bottom
            if name == "bottom_up":
                self._partners[name] = np.asarray(s @ self.filled[:n_b])
            else:
                out = np.zeros_like(self.filled)
                for fit, test in self.folds:
                    cov = covariance_for(name, self.hierarchy, self.residuals[:, fit])
                    proj = fit_projection(s, n_b, cov)
                    out[:, test] = s @ proj.bottom(self.filled[:, test])
                self._partners[name] = out
        return self._partners[name]

    def errors(self, point: TunedWls) -> FloatArray:
        """Held-out reconciled errors of `point` (every column tested once)."""
        s, n_b = self.hierarchy.summing, self.hierarchy.n_bottom
        self.evaluations += 1
        if point.b == 0.0:  # W does not depend on the residuals: one factorisation
            ones = np.ones_like(self.struct)
            proj = fit_diagonal(s, n_b, point.diag(self.struct, ones, self.cells))
            out = np.asarray(s @ proj.bottom(self.filled))
        else:
            out = np.zeros_like(self.filled)
            for (_, test), var in zip(self.folds, self.var, strict=True):
                proj = fit_diagonal(s, n_b, point.diag(self.struct, var, self.cells))
                out[:, test] = s @ proj.bottom(self.filled[:, test])
        if point.partner:
            out = (1.0 - point.share) * out + point.share * self.partner(point.partner)
        return out

    def bottom_ratio(self, table: FloatArray) -> float:
        """The bottom cell's held-out score over unreconciled's."""
        base = self.base[self.bottom_cell].sum()
        return float(table[self.bottom_cell].sum() / base) if base > 0 else 1.0

    def score(self, point: TunedWls) -> tuple[float, float]:
        """(mean over cells and windows, the bottom cell's ratio to unreconciled)."""
        table = self.table(self.errors(point))
        return float(table[self.present].mean()), self.bottom_ratio(table)


def _better(scorer: HeldOutScorer, point: TunedWls, best: float) -> float | None:
    """`point`'s score if it is allowed and beats `best` by more than MIN_GAIN, else None."""
    if scorer.evaluations >= MAX_EVALUATIONS:
        return None
    mean, bottom = scorer.score(point)
    return mean if bottom <= BOTTOM_TOLERANCE and mean < best * (1.0 - MIN_GAIN) else None


def coordinate_search(start: TunedWls, cells: Sequence[int], accept: Callable[[TunedWls], bool],
                      *, passes: int = PASSES, max_moves: int = MAX_MOVES) -> TunedWls:
    """Move each of `cells`' multipliers by factors of 2 (up first, then down) while `accept`
    takes the moved point (it keeps its own best score); up to `passes` passes over the cells,
    `max_moves` moves per cell and direction."""
    point = start
    for _ in range(passes):
        moved_any = False
        for cell in cells:
            for factor in (2.0, 0.5):
                moves = 0
                while moves < max_moves:
                    trial = point.moved(int(cell), factor)
                    if not accept(trial):
                        break
                    point, moves, moved_any = trial, moves + 1, True
                if moves:
                    break
        if not moved_any:
            break
    return point


def _coordinate(scorer: HeldOutScorer, start: TunedWls, best: float) -> tuple[TunedWls, float]:
    """Move each non-bottom cell's multiplier by factors of 2 while the score improves."""
    def accept(trial: TunedWls) -> bool:
        nonlocal best
        found = _better(scorer, trial, best)
        if found is None:
            return False
        best = found
        return True

    cells = [int(c) for c in scorer.present if c != scorer.bottom_cell]
    point = coordinate_search(start, cells, accept)
    return point, best


def tune_wls(hierarchy: Hierarchy, residuals: FloatArray, *, steps: IntArray | None = None,
             weights: FloatArray | None = None) -> TunedWls:
    """The family's point with the best held-out score (module doc); wls_struct when the
    residuals span fewer than 2 windows."""
    blocks = blocks_of(steps, residuals.shape[1])
    start = TunedWls(1.0, 0.0)
    if np.unique(blocks).size < 2:
        return start
    scorer = HeldOutScorer(hierarchy, residuals, blocks, weights)
    if scorer.present.size == 0:  # no base error anywhere: nothing to learn
        return start
    prior = best = scorer.score(start)[0]  # the prior: allowed whatever its bottom score
    point = start
    for a, b in EXPONENTS[1:]:
        trial = TunedWls(a, b)
        found = _better(scorer, trial, best)
        if found is not None:
            point, best = trial, found
    point, best = _coordinate(scorer, point, best)
    base = point
    for partner, share in ((p, s) for p in PARTNERS for s in SHARES):
        trial = replace(base, partner=partner, share=share)
        found = _better(scorer, trial, best)
        if found is not None:
            point, best = trial, found
    return point if best < prior * (1.0 - PRIOR_GAIN) else start


def fit_tuned(hierarchy: Hierarchy, residuals: FloatArray, *, steps: IntArray | None = None,
              weights: FloatArray | None = None) -> tuple[Blend, str]:
    """`wls_tuned` fitted on all of `residuals`: the blend that serves and its name."""
    point = tune_wls(hierarchy, residuals, steps=steps, weights=weights)
    return blend_of(point, hierarchy, residuals), point.name


def blend_of(point: TunedWls, hierarchy: Hierarchy, residuals: FloatArray) -> Blend:
    """The reconciliation `point` serves, its W (and partner's) estimated on `residuals`."""
    s, n_b = hierarchy.summing, hierarchy.n_bottom
    struct = np.asarray(s.sum(axis=1), dtype=np.float64).ravel()
    diag = fit_diagonal(s, n_b, point.diag(struct, second_moment(residuals),
                                           cell_codes(hierarchy)))
    parts: dict[str, BottomMap | None] = {"wls_tuned": diag}
    weights_of = {"wls_tuned": 1.0}
    if point.partner:
        cov = None if point.partner == "bottom_up" else covariance_for(point.partner, hierarchy,
                                                                       residuals)
        parts[point.partner] = None if cov is None else fit_projection(s, n_b, cov)
        weights_of = {"wls_tuned": 1.0 - point.share, point.partner: point.share}
    return Blend(weights_of, parts, n_b)
