"""Batched search of ETS smoothing parameters over many series at once.

Two stages per form, both vectorised over series:
1. `coarse_search`: every series is scored on one shared grid of smoothing parameters.
   Sharing the parameters means sharing the design Z (responses to unit initial states), so
   the optimal initial states of all series are one batched least-squares solve per grid
   point and series length. Exact for series without interior gaps; for series with gaps it
   uses the fully observed design (the gap rows get a zero error), an approximation that
   only steers the search.
2. `refine`: a batched Nelder-Mead (each series keeps its own simplex) on the exact SSE,
   with the seasonal initial states held at the coarse optimum and the level and trend
   initial states re-solved at every step; `polish` then re-solves all initial states.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from models.ets._forms import BOUND, FloatArray, Form, to_unit, to_v
from models.ets._kernels import design, profile_fixed_season, profile_full, zero_state_errors

__all__ = ["coarse_grid", "coarse_search", "nelder_mead", "polish", "refine"]

IntArray = npt.NDArray[np.int64]
WORKERS = max(1, min(2, os.cpu_count() or 1))
_CHUNK_PAIRS = 16_384  # (parameter, series) pairs per filter call: arrays stay in cache
_GRID_CHUNK = 4
_ALPHAS = (1e-4, 0.01, 0.03, 0.07, 0.15, 0.3, 0.5, 0.8)
_GRIDS: dict[str, tuple[tuple[float, ...], ...]] = {
    # alpha, beta_star, gamma_star, phi
    "ANN": (_ALPHAS, (0.0,), (0.0,), (1.0,)),
    "AAN": (_ALPHAS, (1e-4, 0.1, 0.9999), (0.0,), (1.0,)),
    "AAdN": (_ALPHAS, (1e-4, 0.1, 0.9999), (0.0,), (0.85, 0.98)),
    "ANA": (_ALPHAS, (0.0,), (1e-4, 0.05, 0.25), (1.0,)),
    "AAA": (_ALPHAS, (1e-4, 0.1, 0.9999), (1e-4, 0.05, 0.25), (1.0,)),
    "AAdA": (_ALPHAS, (1e-4, 0.1, 0.9999), (1e-4, 0.1), (0.8, 0.9, 0.98)),
}


def coarse_grid(form: Form) -> FloatArray:
    """The shared grid of `form` as (K, 4) unit coordinates."""
    return np.array(list(itertools.product(*_GRIDS[form.name])), dtype=np.float64)


_POOL: list[ThreadPoolExecutor] = []


def _parallel(fn: Callable[[slice], None], n: int, chunk: int) -> None:
    """Run fn on consecutive slices of range(n), on WORKERS threads (numpy frees the GIL)."""
    slices = [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    if WORKERS == 1 or len(slices) == 1:
        for s in slices:
            fn(s)
        return
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(WORKERS, thread_name_prefix="ets"))
    list(_POOL[0].map(fn, slices))


def _inverse_grams(z: FloatArray, lengths: IntArray) -> FloatArray:
    """(K, L, p, p) inverses of Z[:n]' Z[:n] for each distinct series length n."""
    grams = np.einsum("ktp,ktq->ktpq", z, z)
    np.cumsum(grams, axis=1, out=grams)
    picked = grams[:, lengths - 1]
    scale = np.trace(picked, axis1=2, axis2=3)[..., None, None] / z.shape[2]
    return np.linalg.inv(picked + 1e-10 * scale * np.eye(z.shape[2]))


@dataclass
class _Best:
    """Running best grid point per series."""

    sse: FloatArray
    k: IntArray
    x: FloatArray

    def offer(self, rows: slice, sse: FloatArray, k: int, x: FloatArray) -> None:
        better = sse < self.sse[rows]
        self.sse[rows] = np.where(better, sse, self.sse[rows])
        self.k[rows] = np.where(better, k, self.k[rows])
        self.x[rows] = np.where(better[:, None], x, self.x[rows])


def _score_rows(rows: slice, *, y0: FloatArray, obs: FloatArray, u: FloatArray, z: FloatArray,
                inv: FloatArray, bounds: IntArray, k0: int, form: Form, season: int,
                best: _Best) -> None:
    """Score series `rows` at the grid points u (K, 4): SSE = e0'e0 - b' C_n^-1 b with
    b = Z' e0, where e0 are the errors from a zero initial state and n the series' span."""
    errors = zero_state_errors(y0[rows], obs[rows], u, form, season)
    ee = np.einsum("tks,tks->ks", errors, errors)
    for g in range(len(bounds) - 1):
        lo, hi = max(bounds[g], rows.start), min(bounds[g + 1], rows.stop)
        if lo >= hi:
            continue
        local = slice(lo - rows.start, hi - rows.start)
        for k in range(len(u)):
            b = z[k].T @ errors[:, k, local]
            x = inv[k, g] @ b
            best.offer(slice(lo, hi), ee[k, local] - np.einsum("ps,ps->s", x, b), k0 + k, x.T)


def coarse_search(y0: FloatArray, obs: FloatArray, span: IntArray, form: Form,
                  season: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Best grid point of every series (series must be sorted by `span`).

    Args:
        y0, obs: (S, T) left-aligned values (0 where unobserved) and observed mask.
        span: (S,) periods from the first to the last observation, ascending.

    Returns:
        sse (S,), u (S, 4) unit coordinates and x0 (S, 2 + m) initial states at the best
        grid point.
    """
    grid = coarse_grid(form)
    n_series, n_periods = y0.shape
    lengths, starts = np.unique(span, return_index=True)
    best = _Best(np.full(n_series, np.inf), np.zeros(n_series, dtype=np.int64),
                 np.zeros((n_series, form.n_states(season))))
    for k0 in range(0, len(grid), _GRID_CHUNK):
        u = grid[k0:k0 + _GRID_CHUNK]
        z = design(u, form, n_periods, season)
        score = partial(_score_rows, y0=y0, obs=obs, u=u, z=z, inv=_inverse_grams(z, lengths),
                        bounds=np.r_[starts, n_series], k0=k0, form=form, season=season,
                        best=best)
        _parallel(score, n_series, max(64, _CHUNK_PAIRS // len(u)))
    return np.maximum(best.sse, 0.0), grid[best.k], _full_state(best.x, form, season)


def _full_state(x: FloatArray, form: Form, season: int) -> FloatArray:
    """Free initial states (S, p) -> (S, 2 + m) level, trend, all m seasonal slots."""
    m = season if form.seasonal else 1
    out = np.zeros((x.shape[0], 2 + m))
    out[:, 0] = x[:, 0]
    if form.trend:
        out[:, 1] = x[:, 1]
    if form.seasonal:
        out[:, 2:1 + m] = x[:, 1 + form.trend:]
    return out


def nelder_mead(f: Callable[[FloatArray, IntArray], FloatArray], v0: FloatArray, f0: FloatArray,
                *, step: float, iters: int) -> tuple[FloatArray, FloatArray]:
    """Minimise f independently for each row of v0 (P, d); every row keeps its own simplex.

    `f(V, rows)` evaluates the rows `rows` at V (len(rows), d); `f0` is f at v0. Points are
    clipped to the box [-BOUND, BOUND]^d. Returns the best point and value of each row.
    """
    n, d = v0.shape
    rows = np.arange(n)
    simplex = np.repeat(v0[:, None, :], d + 1, axis=1)
    for i in range(d):
        simplex[:, i + 1, i] += np.where(v0[:, i] + step > BOUND, -step, step)
    values = np.stack([f0, *(f(simplex[:, i], rows) for i in range(1, d + 1))], axis=1)
    for _ in range(iters):
        order = np.argsort(values, axis=1)
        simplex = np.take_along_axis(simplex, order[:, :, None], axis=1)
        values = np.take_along_axis(values, order, axis=1)
        _nm_step(f, simplex, values)
    k = values.argmin(axis=1)
    return simplex[rows, k], values[rows, k]


def _nm_step(f: Callable[[FloatArray, IntArray], FloatArray], simplex: FloatArray,
             values: FloatArray) -> None:
    """One Nelder-Mead iteration in place on sorted simplices (best first).

    Three calls of f at most: the reflection for every row, then the expansion or the
    contraction (never both for one row), then the shrink of the rows that need one.
    """
    n, d = simplex.shape[0], simplex.shape[2]
    rows = np.arange(n)
    centre, worst = simplex[:, :-1].mean(axis=1), simplex[:, -1]
    reflected = np.clip(2 * centre - worst, -BOUND, BOUND)
    f_r = f(reflected, rows)
    expand, contract = f_r < values[:, 0], f_r >= values[:, -2]
    outside = f_r < values[:, -1]
    second = np.where(expand[:, None], np.clip(3 * centre - 2 * worst, -BOUND, BOUND),
                      np.where(outside[:, None], (centre + reflected) / 2, (centre + worst) / 2))
    asked = np.flatnonzero(expand | contract)
    f_2 = np.full(n, np.inf)
    f_2[asked] = f(second[asked], asked)
    take_2 = (expand & (f_2 < f_r)) | (contract & (f_2 < np.where(outside, f_r, values[:, -1])))
    take_r = ~contract & ~take_2
    for take, point, value in ((take_r, reflected, f_r), (take_2, second, f_2)):
        simplex[take, -1] = point[take]
        values[take, -1] = value[take]
    shrink = np.flatnonzero(contract & ~take_2)
    if shrink.size:
        simplex[shrink, 1:] = (simplex[shrink, :1] + simplex[shrink, 1:]) / 2
        points = simplex[shrink, 1:].reshape(-1, d)
        values[shrink, 1:] = f(points, np.repeat(shrink, d)).reshape(-1, d)


def _objective(y0: FloatArray, obs: FloatArray, form: Form, season: int,
               seasonal0: FloatArray | None) -> Callable[[FloatArray, IntArray], FloatArray]:
    """SSE of series `rows` at unconstrained parameters V, computed on WORKERS threads."""

    def f(v: FloatArray, rows: IntArray) -> FloatArray:
        out = np.empty(len(rows))
        u = to_unit(v, form)

        def run(part: slice) -> None:
            r = rows[part]
            s0 = None if seasonal0 is None else seasonal0[r]
            out[part] = profile_fixed_season(y0[r], obs[r], u[part], form, season, s0)[0]

        _parallel(run, len(rows), max(256, -(-len(rows) // (2 * WORKERS))))
        return out

    return f


def refine(y0: FloatArray, obs: FloatArray, form: Form, season: int, u0: FloatArray,
           x0: FloatArray, *, iters: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Nelder-Mead from u0 with the seasonal initial states of x0 held fixed.

    Returns:
        sse (P,), u (P, 4) and x0 (P, 2 + m) with the re-solved level and trend.
    """
    seasonal0 = x0[:, 2:] if form.seasonal else None
    f = _objective(y0, obs, form, season, seasonal0)
    rows = np.arange(len(u0))
    f0 = f(to_v(u0, form), rows)
    v, _ = nelder_mead(f, to_v(u0, form), f0, step=0.7, iters=iters)
    u = to_unit(v, form)
    sse, x = profile_fixed_season(y0, obs, u, form, season, seasonal0)
    return sse, u, x


def polish(y0: FloatArray, obs: FloatArray, form: Form, season: int, u: FloatArray,
           sse: FloatArray, x0: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Re-solve all initial states at u; keep the result where it lowers the SSE."""
    new_sse, new_x = np.empty_like(sse), np.empty_like(x0)

    def run(rows: slice) -> None:
        new_sse[rows], new_x[rows] = profile_full(y0[rows], obs[rows], u[rows], form, season)

    _parallel(run, len(sse), 256)
    better = new_sse < sse
    return np.where(better, new_sse, sse), np.where(better[:, None], new_x, x0)
