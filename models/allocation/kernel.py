"""The allocation optimiser: packs of central stock to nodes, many skus at once, exactly.

Problem (one per sku, the "group"; rows are node x sku): choose packs k_r in [lo_r, hi_r]
with sum_r k_r <= budget to maximise sum_r (w_r E[min(D_r, position_r + k_r b)] - c_r k_r),
where D_r is demand over the row's protection interval, b the sku's pack size, w_r its
priority weight and c_r the cost of holding a pack there over the interval in units of
margin (0 for the "units" objective: expected units sold); tiers gate it: a lower tier gets
packs above its minimum only once every higher tier holds its target packs (enough for its
target service level, or its cap).

Why greedy is exact: the value of the k-th pack, g_r(k) = E[min(D, p + kb)] -
E[min(D, p + (k-1)b)] = integral of P(D > y) over the pack, falls with k (P(D > y) falls
with y), and every pack costs the same b units. So for a fixed set of forced packs the
optimum takes the `budget` most valuable packs (ties aside) and it is found by a threshold
lambda >= 0: row r takes every pack with w_r g_r(k) - c_r >= lambda (a pack worth less than
its holding cost stays central even with stock to spare). For tiers the feasible set is a
union of T cases, "tiers < c are at target, only tiers <= c may get more" (c = each tier);
solving each case exactly and keeping the best per sku gives the optimum of the gated
problem (tests/models/allocation/test_milp.py checks it against HiGHS).

Speed: lambda is found by bisection on an O(rows) approximate count (the midpoint rule
g_r(k) ~ b P(D > p + (k - 1/2) b), inverted through the quantile function); the exact counts
at that lambda are then a step or two away and the few packs still in doubt at the margin are
settled by value, per sku, vectorised over all skus at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from models.demand_interval import IntervalDemand

__all__ = ["PackProblem", "PackSolution", "objective", "pack_value", "solve"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EPS = 1e-9
_BISECT = 60
_APPROX_STEPS = 32


@dataclass(frozen=True)
class PackProblem:
    """Many independent single-sku allocation problems; arrays are per row (node x sku).

    Attributes:
        demand: demand over each row's protection interval.
        group: the row's sku number, 0..n_groups-1.
        position: on hand + in transit (units).
        pack: units per pack of the row's sku (> 0).
        lo, hi: least and most packs the row may get (hi >= lo; hi = 0 when excluded).
        weight: value of one expected unit sold at the row (> 0).
        priority: the row's tier (1 is served first).
        target: packs that bring the row to its tier's target service level (lo..hi).
        floor: least expected units sold per pack for a pack to be worth shipping.
        budget: packs available per group.
        cost: holding cost of one more pack at the row over its interval, in units of
            margin (a pack is worth w g - cost); zeros: maximise expected units sold.
    """

    demand: IntervalDemand
    group: IntArray
    position: FloatArray
    pack: FloatArray
    lo: IntArray
    hi: IntArray
    weight: FloatArray
    priority: IntArray
    target: IntArray
    floor: FloatArray
    budget: IntArray
    cost: FloatArray

    @property
    def n_groups(self) -> int:
        return len(self.budget)

    def per_group(self, values: npt.ArrayLike) -> FloatArray:
        """Sum of a per-row quantity within each group."""
        return np.bincount(self.group, weights=np.asarray(values, float),
                           minlength=self.n_groups).astype(np.float64, copy=False)


@dataclass(frozen=True)
class PackSolution:
    """Packs per row, and per group the tier case that won (rows of lower tiers were gated)."""

    packs: IntArray
    cut: IntArray


def pack_value(p: PackProblem, rows: IntArray, k: npt.ArrayLike) -> FloatArray:
    """Expected extra units sold (unweighted) by the k-th pack at each row."""
    pos, b = p.position[rows], p.pack[rows]
    k = np.asarray(k, dtype=np.float64)
    y = np.stack([pos + k * b, pos + (k - 1) * b], axis=1)
    sales = p.demand.expected_sales(y, rows)
    return sales[:, 0] - sales[:, 1]


def objective(p: PackProblem, packs: IntArray) -> FloatArray:
    """Priority-weighted expected units sold less the packs' holding cost, per group."""
    sold = p.demand.expected_sales(p.position + packs * p.pack)
    return p.per_group(p.weight * sold - p.cost * packs)


def solve(p: PackProblem) -> PackSolution:
    """The optimal packs per row; every group must afford its minimums (sum lo <= budget)."""
    rows = np.arange(len(p.group))
    best = np.full(p.n_groups, -np.inf)
    packs, cut = p.lo.copy(), np.zeros(p.n_groups, dtype=np.int64)
    for tier in np.unique(p.priority):
        forced = np.where(p.priority < tier, np.maximum(p.lo, p.target), p.lo)
        ok = p.per_group(forced) <= p.budget
        cap = np.where(p.priority <= tier, p.hi, forced)
        k = _top_packs(p, rows[ok[p.group] & (cap > forced)], start=forced, cap=cap)
        value = objective(p, k)
        margin = np.where(np.isfinite(best), _EPS * np.abs(best), 0.0)
        better = ok & (value > best + margin)  # on ties the earlier, stricter case stays
        take = better[p.group]
        packs[take], cut[better], best[better] = k[take], tier, value[better]
    return PackSolution(packs=packs, cut=cut)


@dataclass(frozen=True)
class _View:
    """The rows one pass works on, gathered once (distribution included). Rows of one group,
    tier, holding cost and floor share their threshold, so it is computed per such class."""

    dist: IntervalDemand
    group: IntArray
    n_groups: int
    position: FloatArray
    pack: FloatArray
    weight: FloatArray
    cost: FloatArray
    start: IntArray
    cap: IntArray
    cls: IntArray
    cls_group: IntArray
    cls_weight: FloatArray
    cls_cost: FloatArray
    cls_floor: FloatArray
    cls_pack: FloatArray

    @classmethod
    def of(cls, p: PackProblem, rows: IntArray, start: IntArray, cap: IntArray) -> _View:
        g, prio = p.group[rows], p.priority[rows]
        key = np.column_stack([g, prio, p.cost[rows], p.floor[rows]])
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        head = rows[first]
        return cls(dist=p.demand.take(rows, with_keys=False), group=g, n_groups=p.n_groups,
                   position=p.position[rows], pack=p.pack[rows], weight=p.weight[rows],
                   cost=p.cost[rows], start=start[rows], cap=cap[rows], cls=inverse.ravel(),
                   cls_group=p.group[head], cls_weight=p.weight[head],
                   cls_cost=p.cost[head],
                   cls_floor=np.maximum(p.floor[head], _EPS * p.pack[head]),
                   cls_pack=p.pack[head])

    def sub(self, idx: IntArray) -> _View:
        return replace(self, dist=self.dist.take(idx, with_keys=False), group=self.group[idx],
                       position=self.position[idx], pack=self.pack[idx],
                       weight=self.weight[idx], cost=self.cost[idx], start=self.start[idx],
                       cap=self.cap[idx], cls=self.cls[idx])

    def value(self, idx: IntArray | None, k: npt.ArrayLike) -> FloatArray:
        """Unweighted value of the k-th pack of local rows `idx` (all rows when None)."""
        pos = self.position if idx is None else self.position[idx]
        b = self.pack if idx is None else self.pack[idx]
        k = np.asarray(k, dtype=np.float64)
        sales = self.dist.expected_sales(np.stack([pos + k * b, pos + (k - 1) * b], axis=1),
                                         idx)
        return sales[:, 0] - sales[:, 1]

    def values_around(self, idx: IntArray, k: IntArray) -> tuple[FloatArray, FloatArray]:
        """Values of packs k and k+1 of local rows `idx`, from one evaluation."""
        pos, b = self.position[idx], self.pack[idx]
        y = pos[:, None] + (k[:, None] + np.array([-1.0, 0.0, 1.0])) * b[:, None]
        sales = self.dist.expected_sales(y, idx)
        return sales[:, 1] - sales[:, 0], sales[:, 2] - sales[:, 1]

    def sums(self, values: npt.ArrayLike) -> FloatArray:
        return np.bincount(self.group, weights=np.asarray(values, float),
                           minlength=self.n_groups).astype(np.float64, copy=False)

    def threshold(self, lam: FloatArray) -> FloatArray:
        """Least unweighted pack value per class at group thresholds `lam` (on w g - cost)."""
        return np.maximum((lam[self.cls_group] + self.cls_cost) / self.cls_weight,
                          self.cls_floor)


def _top_packs(p: PackProblem, rows: IntArray, *, start: IntArray, cap: IntArray) -> IntArray:
    """The most valuable packs on top of `start`, up to `cap` and each group's budget."""
    k = start.copy()
    if rows.size == 0:
        return k
    v = _View.of(p, rows, start, cap)
    floor = v.threshold(np.zeros(p.n_groups))
    left = p.budget - p.per_group(start)
    guess = _approx_counts(v, floor, v.start, v.cap)
    sure = v.sums(guess - v.start) - 2 * np.bincount(v.group, minlength=p.n_groups) > left + 0.5
    full = guess.copy()
    unsure = np.flatnonzero(~sure[v.group])
    full[unsure] = _exact_counts(v.sub(unsure), floor, v.start[unsure], v.cap[unsure])
    k[rows] = full
    over = np.flatnonzero((v.sums(full - v.start) > left + 0.5)[v.group])
    if over.size:
        k[rows[over]] = _cut_to_budget(v.sub(over), left, full[over], sure)
    return k


def _approx_counts(v: _View, thr: FloatArray, start: IntArray, cap: IntArray,
                   idx: IntArray | None = None) -> IntArray:
    """Midpoint-rule count: packs whose middle unit sells with probability >= thr / b
    (`thr` per class; the level's place on the shared grid is found per class too). With
    `idx`, only those local rows (and `start`, `cap` are still per local row)."""
    levels = v.dist.levels
    u = np.clip(1.0 - thr / v.cls_pack, 0.0, 1.0)
    j = np.minimum(np.searchsorted(levels, u, side="right") - 1, levels.size - 2)
    t = (u - levels[j]) / (levels[j + 1] - levels[j])
    rows = np.arange(v.cls.size) if idx is None else idx
    c = v.cls[rows]
    flat = v.dist.values.ravel()
    at = rows * levels.size + j[c]
    y = flat[at] + t[c] * (flat[at + 1] - flat[at])
    b = v.pack[rows]
    k = np.where((thr > v.cls_pack)[c], 0.0, np.floor((y - v.position[rows]) / b + 0.5))
    return np.clip(k, start[rows], cap[rows]).astype(np.int64)


def _exact_counts(v: _View, thr: FloatArray, start: IntArray, cap: IntArray,
                  guess: IntArray | None = None) -> IntArray:
    """Largest k in [start, cap] whose k-th pack is worth >= thr (per class; start if none)."""
    k = _approx_counts(v, thr, start, cap) if guess is None else np.clip(guess, start, cap)
    row_thr = thr[v.cls]
    active = np.arange(k.size)
    for _ in range(3):
        if active.size == 0:
            return k
        kk = k[active]
        here, nxt = v.values_around(active, kk)
        up = (kk < cap[active]) & (nxt >= row_thr[active])
        down = (kk > start[active]) & (here < row_thr[active])
        k[active] = kk + up - down
        active = active[up | down]
    if active.size:
        k[active] = _search_counts(v, active, row_thr[active], start[active], cap[active])
    return k


def _search_counts(v: _View, idx: IntArray, thr: FloatArray, start: IntArray,
                   cap: IntArray) -> IntArray:
    """Binary search of the same count for local rows `idx`, within [start, cap]."""
    lo, hi = start.copy(), cap.copy()
    while np.any(lo < hi):
        mid = (lo + hi + 1) // 2
        ok = v.value(idx, mid) >= thr
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid - 1)
    return lo


def _cut_to_budget(v: _View, left: FloatArray, full: IntArray,
                   full_is_guess: npt.NDArray[np.bool_]) -> IntArray:
    """Counts for groups whose useful packs exceed the budget: an approximate threshold, an
    exact bracket around it narrowed until few packs are in doubt, then those by value."""
    top = np.zeros(v.n_groups)
    np.maximum.at(top, v.group, v.weight * v.pack * (1 + 1e-9))
    lam = _approx_threshold(v, left, top)
    lo, hi = lam * 0.98, np.minimum(lam * 1.02 + 1e-12, top)
    k_hi = _exact_counts(v, v.threshold(hi), v.start, v.cap)
    k_lo = _exact_counts(v, v.threshold(lo), v.start, v.cap)
    bad = v.sums(k_hi - v.start) > left + 0.5  # even the upper end takes too much
    over = bad[v.group]
    lo, hi, k_lo[over], k_hi[over] = (np.where(bad, hi, lo), np.where(bad, top, hi), k_hi[over],
                                      v.start[over])
    bad = v.sums(k_lo - v.start) <= left + 0.5  # even the lower end fits
    r = np.flatnonzero(bad[v.group])
    if r.size:  # search [0, lo): the useful counts are the lower end's counts
        exact = full[r]
        guessed = full_is_guess[v.group[r]]
        exact[guessed] = _exact_counts(v.sub(r[guessed]), v.threshold(np.zeros(v.n_groups)),
                                       v.start[r[guessed]], v.cap[r[guessed]])
        hi, lo = np.where(bad, lo, hi), np.where(bad, 0.0, lo)
        k_hi[r], k_lo[r] = k_lo[r], exact
    limit = max(4 * k_lo.size, 50_000)
    for _ in range(_BISECT):
        doubt = np.flatnonzero(k_lo > k_hi)
        if (k_lo - k_hi).sum() <= limit or doubt.size == 0 or np.all(hi - lo <= 1e-12 * hi):
            break
        mid = 0.5 * (lo + hi)
        k_mid = k_hi.copy()
        k_mid[doubt] = _search_counts(v, doubt, v.threshold(mid)[v.cls[doubt]], k_hi[doubt],
                                      k_lo[doubt])
        fits = v.sums(k_mid - v.start) <= left + 0.5
        hi, lo = np.where(fits, mid, hi), np.where(fits, lo, mid)
        k_hi, k_lo = np.where(fits[v.group], k_mid, k_hi), np.where(fits[v.group], k_lo, k_mid)
    return _take_margin(v, k_hi, k_lo, left)


def _approx_threshold(v: _View, left: FloatArray, top: FloatArray) -> FloatArray:
    """Geometric bisection of the group thresholds on the O(rows) approximate counts; rows
    whose count is the same at both ends of their group's bracket are not counted again."""
    lo, hi = np.log(np.maximum(top, 1e-300) * 1e-12), np.log(np.maximum(top, 1e-300))
    k_lo = _approx_counts(v, v.threshold(np.exp(lo)), v.start, v.cap)
    k_hi = v.start.copy()
    doubt = np.arange(v.cls.size)
    for _ in range(_APPROX_STEPS):
        doubt = doubt[k_lo[doubt] > k_hi[doubt]]
        if doubt.size == 0:
            break
        mid = 0.5 * (lo + hi)
        k_mid = k_hi.copy()
        k_mid[doubt] = _approx_counts(v, v.threshold(np.exp(mid)), v.start, v.cap,
                                      idx=doubt)
        fits = v.sums(k_mid - v.start) <= left + 0.5
        hi, lo = np.where(fits, mid, hi), np.where(fits, lo, mid)
        r = fits[v.group[doubt]]
        k_hi[doubt[r]], k_lo[doubt[~r]] = k_mid[doubt[r]], k_mid[doubt[~r]]
    return np.exp(hi)


def _take_margin(v: _View, k_hi: IntArray, k_lo: IntArray, left: FloatArray) -> IntArray:
    """Add, per group, the most valuable of the packs between the bracket's two counts
    until the group's budget is used: every pack in doubt is valued exactly."""
    extra = k_lo - k_hi
    if extra.sum() > max(4 * extra.size, 50_000):
        return _split_ties(v, k_hi, extra, left)
    idx = np.repeat(np.arange(extra.size), extra)
    if idx.size == 0:
        return k_hi
    offset = np.arange(idx.size) - np.repeat(np.cumsum(extra) - extra, extra)
    value = v.weight[idx] * v.value(idx, k_hi[idx] + 1 + offset) - v.cost[idx]
    need = np.maximum(np.rint(left - v.sums(k_hi - v.start)), 0.0)
    chosen = _first_per_group(v.group[idx], -value, need)
    return k_hi + np.bincount(idx[chosen], minlength=extra.size)


def _split_ties(v: _View, k_hi: IntArray, extra: IntArray, left: FloatArray) -> IntArray:
    """Packs whose values the bisection cannot tell apart (every pack below the least
    possible demand is worth exactly one pack): any split is optimal to within the bracket,
    so split them as fair share would, to equal cover of mean demand, largest remainder last."""
    need = np.maximum(np.rint(left - v.sums(k_hi - v.start)), 0.0)
    base = v.position + k_hi * v.pack
    mean = np.maximum(v.dist.mean, 1e-12)
    lo, hi = np.zeros(v.n_groups), np.zeros(v.n_groups)
    np.maximum.at(hi, v.group, (base + extra * v.pack) / mean)
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        take = np.clip((mid[v.group] * mean - base) / v.pack, 0, extra)
        fits = v.sums(np.floor(take)) <= need
        lo, hi = np.where(fits, mid, lo), np.where(fits, hi, mid)
    take = np.clip((lo[v.group] * mean - base) / v.pack, 0, extra)
    give = np.floor(take).astype(np.int64)
    chosen = _first_per_group(v.group, -(take - give) - (give < extra), need - v.sums(give))
    return k_hi + give + (chosen & (give < extra))


def _first_per_group(group: IntArray, key: FloatArray, count: FloatArray
                     ) -> npt.NDArray[np.bool_]:
    """Mask of the `count[g]` smallest keys within each group g."""
    order = np.lexsort((key, group))
    gs = group[order]
    first = np.searchsorted(gs, gs, side="left")
    rank = np.arange(gs.size) - first
    chosen = np.zeros(group.size, dtype=bool)
    chosen[order[rank < count[gs]]] = True
    return chosen
