"""Issue 23 measurement: a hindsight (look-ahead) bound on the cells reconciliation can win.

Usage:
    .venv/bin/python benchmarks/hierarchy_bound.py [--datasets walmart,generated] [--maxfev 300]

NOT a method: every choice below is made with the scored window's own actuals. Reuses
benchmarks/hierarchy.py's data, windows (6 cutoffs, h = 8, the last 3 scored), cached base
forecasts (benchmarks/out/hierarchy/; never refitted), residual histories, WRMSSE per
level x sku-kind cell and hierarchicalforecast peers (unchanged). Three searches, each run
once per scored window (against that window's peers) and once for one choice shared by the
3 scored windows (their mean cells against the peers' mean cells, the benchmark's table):
    family: wls_tuned's family (models/hierarchy/tuned.py: W_ii = m_cell x struct^a x ms^b,
        ms from the earlier windows' residuals as the product does, optionally averaged with
        bottom-up or mint_shrink), searched on the scored cells: (a, b) grid, then each
        cell's multiplier by factors of 2 (within 2^-16..2^16, passes until no gain), then
        the averages (share 0.25 / 0.5 / 0.75).
    combo: convex combinations, simplex grid step 0.1, of hf bottom_up, hf ols,
        hf wls_struct, hf mint_shrink, ours wls_mix, ours wls_tuned (as the benchmark).
    relax: Powell (`--maxfev` evaluations) from the best family point (or combo), over the
        log2 multipliers, a and b (in [-0.5, 2]) and softmax weights on {family point, the
        six above}, minimising the sum over cells of our cell WRMSSE / the best peer's.
Key: (cells won against every peer (ties lose), -summed log excess over the best peer on
lost cells, -cell average); every evaluated candidate enters the search's pool. Printed per
case: each search's best and the cells it loses, per window and shared; the most cells won
on the 3-window mean with one pick per window (coordinate ascent over the windows).
`--cross`: the shared choice found on two scored windows, scored on the third.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from scipy import optimize, sparse  # noqa: E402

from benchmarks.hierarchy import (  # noqa: E402
    PEERS,
    base_forecasts,
    cutoffs,
    groups,
    hf_reconcile,
    load,
    m5_weights,
    residual_history,
    scale_and_weight,
)
from models.hierarchy import Hierarchy, fit_reconciler  # noqa: E402
from models.hierarchy.projection import fit_diagonal  # noqa: E402
from models.hierarchy.tuned import (  # noqa: E402
    TunedWls,
    cell_codes,
    cell_names,
    coordinate_search,
    second_moment,
)

FloatArray = npt.NDArray[np.float64]
Key = tuple[int, float, float]
#: A candidate: family point (or None) and weights on (that point, *MEMBERS).
Spec = tuple[TunedWls | None, FloatArray]
WINDOWS, TEST, H = 6, 3, 8
MEMBERS = ("bottom_up", "ols", "wls_struct", "mint_shrink", "wls_mix", "wls_tuned")
SHORT = ("bu", "ols", "struct", "shrink", "mix", "tuned")
AB_GRID = tuple(itertools.product((0.0, 0.5, 1.0, 1.5), (0.0, 0.5, 1.0)))
SHARES = (0.25, 0.5, 0.75)
PASSES, MAX_MOVES = 4, 8
ONE_HOT = np.eye(1 + len(MEMBERS))
#: Cell multipliers stay within 2^-LOG2_LIMIT .. 2^LOG2_LIMIT (C W C' stays factorisable).
LOG2_LIMIT = 16


@dataclass(frozen=True)
class CellScorer:
    """WRMSSE per cell of forecasts of one window (benchmarks/hierarchy.py's metric)."""

    actual: FloatArray
    inv_scale: FloatArray
    agg: sparse.csr_matrix

    @classmethod
    def of(cls, y: FloatArray, cut: int, grp: dict[str, npt.NDArray[np.int64]]) -> CellScorer:
        """Scorer of the window after `cut`; cells in `grp` order."""
        scale, weight = scale_and_weight(y, cut)
        inv = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
        rows = [np.full(r.size, i) for i, r in enumerate(grp.values())]
        cols = np.concatenate(list(grp.values()))
        w = np.concatenate([weight[r] / np.sum(weight[r]) for r in grp.values()])
        agg = sparse.csr_matrix((w, (np.concatenate(rows), cols)), shape=(len(grp), len(y)))
        return cls(y[:, cut + 1: cut + 1 + H], inv, agg)

    def of_errors(self, errors: FloatArray) -> FloatArray:
        """Cell WRMSSE of errors (..., n_all, H)."""
        rmsse = np.sqrt(np.mean(errors**2, axis=-1) * self.inv_scale)
        return np.asarray((self.agg @ rmsse.reshape(-1, rmsse.shape[-1]).T).T)

    def cells(self, means: FloatArray) -> FloatArray:
        """Cell WRMSSE of one forecast (n_all x H)."""
        return np.asarray(self.of_errors(self.actual - means)[0])


def key(cells: FloatArray, target: FloatArray) -> Key:
    """(cells strictly below `target`, -summed log excess on the others, -cell average)."""
    excess = np.log(np.maximum(cells, 1e-12) / np.maximum(target, 1e-12)).clip(min=0.0).sum()
    return int(np.sum(cells < target)), -float(excess), -float(np.mean(cells))


@dataclass
class Pool:
    """Every candidate evaluated at one window: label and cell WRMSSE."""

    target: FloatArray
    labels: list[str] = field(default_factory=list)
    cells: list[FloatArray] = field(default_factory=list)
    specs: list[Spec] = field(default_factory=list)

    def add(self, label: str, cells: FloatArray, spec: Spec) -> Key:
        """Record a candidate; its key against the window's best peer."""
        self.labels.append(label)
        self.cells.append(cells)
        self.specs.append(spec)
        return key(cells, self.target)

    def best_index(self, start: int = 0) -> int:
        """Index of the best key among candidates `start` onwards."""
        return max(range(start, len(self.cells)), key=lambda i: key(self.cells[i], self.target))

    def best(self, prefix: str = "") -> tuple[Key, str]:
        """Best key among labels starting with `prefix`, and its label."""
        i = max((i for i, lab in enumerate(self.labels) if lab.startswith(prefix)),
                key=lambda i: key(self.cells[i], self.target))
        return key(self.cells[i], self.target), self.labels[i]


@dataclass
class Window:
    """One scored window: scorer, the members' forecasts, the peers' cells, the family."""

    scorer: CellScorer
    members: dict[str, FloatArray]
    peers: FloatArray
    hier: Hierarchy
    base: FloatArray
    ms: FloatArray

    def family(self, point: TunedWls) -> FloatArray:
        """The family point's reconciled forecast (n_all x H)."""
        s, n_b = self.hier.summing, self.hier.n_bottom
        struct = np.asarray(s.sum(axis=1), dtype=np.float64).ravel()
        diag = point.diag(struct, self.ms, cell_codes(self.hier))
        proj = fit_diagonal(s, n_b, diag / np.exp(np.mean(np.log(diag))))  # W's scale is free
        out = np.asarray(s @ proj.bottom(self.base))
        if point.partner:
            out = (1.0 - point.share) * out + point.share * self.members[point.partner]
        return out


def make_window(y: FloatArray, hier: Hierarchy, cuts: list[int], fc: list[FloatArray], k: int,
                grp: dict[str, npt.NDArray[np.int64]]) -> Window:
    """Peers (hf), ours wls_mix / wls_tuned and the scorer of scored window k."""
    res, steps, sigmah = residual_history(y, cuts, fc, k)
    scorer = CellScorer.of(y, cuts[k], grp)
    members = {m: hf_reconcile(m, hier, fc[k], res, sigmah)[0] for m in MEMBERS[:4]}
    weights = m5_weights(y, cuts[k], hier)
    for m in MEMBERS[4:]:
        rec = fit_reconciler(hier, res, m, steps=steps,
                             weights=weights if m == "wls_tuned" else None)
        members[m] = rec.means(fc[k])
    peers = np.stack([scorer.cells(members[p.removeprefix("hf_")]) for p in PEERS])
    return Window(scorer, members, peers, hier, fc[k], second_moment(res))


Windows = list[Window]


def spec_cells(win: Window, spec: Spec) -> FloatArray:
    """Cell WRMSSE of a candidate at one window."""
    point, w = spec
    means = sum(wj * win.members[m] for wj, m in zip(w[1:], MEMBERS, strict=True) if wj)
    if point is not None and w[0]:
        means = means + w[0] * win.family(point)
    return win.scorer.cells(np.asarray(means))


def search_family(wins: Windows, pool: Pool, cells_present: list[int]) -> TunedWls:
    """Hindsight coordinate search of wls_tuned's family on the windows' own cells."""
    def score(point: TunedWls) -> Key:
        spec = (point, ONE_HOT[0])  # ms per window, as the product
        return pool.add(f"family {point.name}",
                        np.mean([spec_cells(w, spec) for w in wins], axis=0), spec)

    best_key, point = max(((score(TunedWls(a, b)), TunedWls(a, b)) for a, b in AB_GRID),
                          key=lambda t: t[0])

    def accept(trial: TunedWls) -> bool:
        nonlocal best_key
        if any(abs(np.log2(m)) > LOG2_LIMIT for m in trial.multipliers.values()):
            return False
        if (trial_key := score(trial)) <= best_key:
            return False
        best_key = trial_key
        return True

    base = point = coordinate_search(point, cells_present, accept, passes=PASSES,
                                     max_moves=MAX_MOVES)
    for partner, share in itertools.product(("bottom_up", "mint_shrink"), SHARES):
        trial = replace(base, partner=partner, share=share)
        trial_key = score(trial)
        if trial_key > best_key:
            point, best_key = trial, trial_key
    return point


def simplex(step: float = 0.1, parts: int = len(MEMBERS)) -> FloatArray:
    """Every weight vector on the simplex grid with spacing `step`."""
    n = round(1 / step)
    rows = [np.diff([-1, *bars, n + parts - 1]) - 1
            for bars in itertools.combinations(range(n + parts - 1), parts - 1)]
    return np.asarray(rows, dtype=np.float64) / n


def combo_label(w: FloatArray) -> str:
    """E.g. `combo bu.3 struct.7`."""
    return "combo " + " ".join(f"{s}{x:.1f}".replace("0.", ".").replace("1.0", "1")
                               for s, x in zip(SHORT, w, strict=True) if x > 0)


def combo_cells(win: Window, grid: FloatArray, batch: int = 200) -> FloatArray:
    """Cell WRMSSE of every combination in `grid` (n_combos x n_cells) at one window."""
    errs = np.stack([win.scorer.actual - win.members[m] for m in MEMBERS])
    out = [win.scorer.of_errors(np.einsum("cj,jnh->cnh", grid[i:i + batch], errs))
           for i in range(0, len(grid), batch)]
    return np.concatenate(out)


def relax(wins: Windows, pool: Pool, start: TunedWls, weights: FloatArray, cells_present: list[int],
          maxfev: int) -> None:
    """Powell over log2 multipliers, (a, b) and softmax weights on {family, MEMBERS}."""
    mult0 = [np.log2(start.multipliers.get(c, 1.0)) for c in cells_present]
    x0 = np.r_[mult0, start.a, start.b, np.log(weights + 1e-3)]
    n_c = len(cells_present)

    def objective(x: FloatArray) -> float:
        point = TunedWls(float(np.clip(x[n_c], -0.5, 2)), float(np.clip(x[n_c + 1], -0.5, 2)),
                         {c: float(2.0 ** np.clip(v, -LOG2_LIMIT, LOG2_LIMIT))
                          for c, v in zip(cells_present, x[:n_c], strict=True)})
        w = np.exp(x[n_c + 2:] - np.max(x[n_c + 2:]))
        w /= w.sum()
        try:
            cells = np.mean([spec_cells(win, (point, w)) for win in wins], axis=0)
        except RuntimeError:  # C W C' singular in floating point at an extreme W
            return 1e6
        pool.add(f"relax {point.name} w={np.round(w, 2).tolist()}", cells, (point, w))
        return float(np.sum(cells / np.maximum(pool.target, 1e-12)))

    optimize.minimize(objective, x0, method="Powell", options={"maxfev": maxfev, "xtol": 1e-3})


def run_windows(wins: Windows, grid: FloatArray, cells_present: list[int], maxfev: int
                ) -> Pool:
    """Every candidate of the three searches, one choice for all of `wins` (scored on the
    mean of their cells against the best peer's mean)."""
    pool = Pool(np.mean([w.peers for w in wins], axis=0).min(axis=0))
    for m in MEMBERS[4:]:
        pool.add(f"today {m}", np.mean([w.scorer.cells(w.members[m]) for w in wins], axis=0),
                 (None, ONE_HOT[1 + MEMBERS.index(m)]))
    point = search_family(wins, pool, cells_present)
    n_before = len(pool.labels)
    combos = np.mean([combo_cells(w, grid) for w in wins], axis=0)
    for w, c in zip(grid, combos, strict=True):
        pool.add(combo_label(w), c, (None, np.r_[0.0, w]))
    i_best = pool.best_index(n_before)
    family_first = pool.best("family")[0] >= key(pool.cells[i_best], pool.target)
    start = ONE_HOT[0] if family_first else np.r_[0.0, grid[i_best - n_before]]
    relax(wins, pool, point, start, cells_present, maxfev)
    return pool


def across_windows(pools: list[Pool], target: FloatArray, rounds: int = 6
                   ) -> tuple[Key, list[int]]:
    """One pick per window maximising the key of the 3-window mean (coordinate ascent)."""
    mats = [np.stack(p.cells) for p in pools]
    best: tuple[Key, list[int]] | None = None
    starts: list[Callable[[int], int]] = [
        lambda j: pools[j].best_index(),
        lambda j: int(np.argmin(np.sum(mats[j] / pools[j].target, axis=1)))]
    for start in starts:
        pick = [start(j) for j in range(len(pools))]
        for _ in range(rounds):
            for j in range(len(pools)):
                rest = sum(mats[i][pick[i]] for i in range(len(pools)) if i != j)
                means = (rest + mats[j]) / len(pools)
                keys = [key(c, target) for c in means]
                pick[j] = max(range(len(keys)), key=keys.__getitem__)
        total = sum(mats[i][pick[i]] for i in range(len(pools))) / len(pools)
        if best is None or key(total, target) > best[0]:
            best = (key(total, target), list(pick))
    assert best is not None
    return best


def lost_cells(cells: FloatArray, peers: FloatArray, names: list[str]) -> str:
    """Each cell not strictly below every peer: ours vs the best peer and the gap."""
    out = []
    for i, name in enumerate(names):
        j = int(np.argmin(peers[:, i]))
        if cells[i] >= peers[j, i]:
            out.append(f"{name} {cells[i]:.4f} vs {PEERS[j]} {peers[j, i]:.4f} "
                       f"(+{100 * (cells[i] / peers[j, i] - 1):.2f}%)")
    return "; ".join(out) or "none"


def print_pool(title: str, pool: Pool, peers: FloatArray, names: list[str]) -> None:
    """Best candidate per search (key against `pool.target`) and the cells it still loses."""
    print(f"\n{title} (of {len(names)} cells):")
    for prefix in ("today wls_tuned", "today wls_mix", "family", "combo", "relax", ""):
        (won, excess, avg), label = pool.best(prefix)
        print(f"  {prefix or 'any':16s} won {won:2d}  excess {-excess:.4f}  avg {-avg:.4f}"
              f"  {label}")
    best = pool.cells[pool.labels.index(pool.best()[1])]
    print(f"  {len(pool.labels)} candidates; lost by the best: {lost_cells(best, peers, names)}")


def run_case(case: str, windows: Windows, grid: FloatArray, names: list[str],
             maxfev: int) -> None:
    """Per window and fixed-for-all-windows hindsight searches of one case; print the bound."""
    present = [cell_names().index(n) for n in names if n != "node/sku"]
    pools = []
    for k, win in zip(range(WINDOWS - TEST, WINDOWS), windows, strict=True):
        pool = run_windows([win], grid, present, maxfev)
        pools.append(pool)
        print_pool(f"{case} window {k}, per window against its own peers", pool, win.peers,
                   names)
    peers = np.mean([w.peers for w in windows], axis=0)
    target = peers.min(axis=0)
    print(f"\n{case}: peers' avg over the {TEST} windows "
          f"{np.round(peers.mean(axis=1), 4).tolist()} ({', '.join(PEERS)})")
    print_pool(f"{case} one choice for all {TEST} windows (mean of the windows)",
               run_windows(windows, grid, present, maxfev), peers, names)
    best_key, pick = across_windows(pools, target)
    total = np.mean([p.cells[j] for p, j in zip(pools, pick, strict=True)], axis=0)
    print(f"\n{case} one pick per window (mean of the windows): won {best_key[0]} of "
          f"{len(names)}, avg {total.mean():.4f}; lost: {lost_cells(total, peers, names)}")
    for k, (p, j) in zip(range(WINDOWS - TEST, WINDOWS), zip(pools, pick, strict=True),
                         strict=True):
        print(f"    window {k}: {p.labels[j]}")
    print("  ours/best peer: " + "  ".join(f"{nm} {c:.4f}/{t:.4f}" for nm, c, t in
                                           zip(names, total, target, strict=True)), flush=True)


def cross_check(case: str, windows: Windows, grid: FloatArray, names: list[str],
                maxfev: int) -> None:
    """Transfer between windows: the shared choice found on two scored windows, scored on
    the third (still look-ahead: the other two include later windows)."""
    present = [cell_names().index(n) for n in names if n != "node/sku"]
    held = []
    for j, win in enumerate(windows):
        pool = run_windows([w for i, w in enumerate(windows) if i != j], grid, present, maxfev)
        i = pool.best_index()
        cells = spec_cells(win, pool.specs[i])
        held.append(cells)
        print(f"  {case} window {WINDOWS - TEST + j} from the other two: won "
              f"{key(pool.cells[i], pool.target)[0]} on them, {key(cells, win.peers.min(0))[0]}"
              f" on it; lost: {lost_cells(cells, win.peers, names)}; {pool.labels[i]}")
    peers = np.mean([w.peers for w in windows], axis=0)
    total = np.mean(held, axis=0)
    print(f"  {case} held-out windows' mean: won {key(total, peers.min(0))[0]} of "
          f"{len(names)}; lost: {lost_cells(total, peers, names)}", flush=True)


def main() -> None:
    """Parse arguments, run every case, print the bounds."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="walmart,generated")
    parser.add_argument("--maxfev", type=int, default=300)
    parser.add_argument("--cross", action="store_true",
                        help="only the cross-window transfer check (cross_check)")
    args = parser.parse_args()
    grid = simplex()
    for name in (d for d in args.datasets.split(",") if d):
        y, hier, freq = load(name)
        cuts = cutoffs(y.shape[1], WINDOWS)
        grp = groups(hier, items_grouped=name != "walmart")
        for source, fc in base_forecasts(name, y, cuts, freq, force=False).items():
            wins = [make_window(y, hier, cuts, fc, k, grp) for k in range(WINDOWS - TEST, WINDOWS)]
            run = cross_check if args.cross else run_case
            run(f"{name} + {source}", wins, grid, list(grp), args.maxfev)


if __name__ == "__main__":
    main()
