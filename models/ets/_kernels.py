"""State recursions of additive-error ETS, vectorised over many (series, parameter) pairs.

Internal conventions (the public layout is documented in `models.ets.model`):
- `y0` (S, T) holds the series left-aligned (first observation in column 0) with 0 where
  not observed, `obs` (S, T) is 1.0 where observed and 0.0 elsewhere.
- The state before period t is level `l`, trend `b` and a circular seasonal buffer of m
  slots; slot `t % m` is the seasonal component of period t. One period is
      yhat = l + phi*b + s[t % m];  e = (y - yhat) * observed
      l <- l + phi*b + alpha*e;  b <- phi*b + beta*e;  s[t % m] <- s[t % m] + gamma*e
  so an unobserved period moves the state forward without an error correction.
- For fixed smoothing parameters the errors are affine in the initial state x0, which is
  what makes the initial states a least-squares problem: e = e(x0=0) + E1 @ x0, where the
  columns of E1 are the error responses to unit initial states.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.ets._forms import FloatArray, Form, smoothing

__all__ = [
    "design",
    "end_states",
    "profile_fixed_season",
    "profile_full",
    "zero_state_errors",
]

_RIDGE = 1e-12


def design(u: FloatArray, form: Form, n_periods: int, season: int) -> FloatArray:
    """Error responses to each free unit initial state for fully observed series.

    Args:
        u: (K, 4) unit coordinates of K parameter vectors.

    Returns:
        Z (K, T, p): column 0 level, then trend, then seasonal slots 0..m-2 (slot m-1 is
        fixed at 0); Z[k, t] = -d e_t / d x0, i.e. the one-step prediction of period t.
    """
    alpha, beta, gamma, phi = (a[:, None] for a in smoothing(u, form))
    m = season if form.seasonal else 1
    p = form.n_states(season)
    level = np.zeros((u.shape[0], p))
    trend = np.zeros_like(level)
    seas = np.zeros((m, *level.shape))
    level[:, 0] = 1.0
    if form.trend:
        trend[:, 1] = 1.0
    first_season = 1 + form.trend
    for j in range(m - 1 if form.seasonal else 0):
        seas[j, :, first_season + j] = 1.0
    z = np.empty((u.shape[0], n_periods, p))
    for t in range(n_periods):
        s = seas[t % m]
        damped = phi * trend
        yhat = level + damped + s
        z[:, t] = yhat
        level += damped - alpha * yhat
        trend = damped - beta * yhat
        s -= gamma * yhat
    return z


def zero_state_errors(y0: FloatArray, obs: FloatArray, u: FloatArray, form: Form,
                      season: int) -> FloatArray:
    """One-step errors from a zero initial state, for every series and parameter vector.

    Args:
        y0, obs: (S, T) left-aligned values and observed mask.
        u: (K, 4) unit coordinates shared by all S series.

    Returns:
        E (T, K, S).
    """
    alpha, beta, gamma, phi = (a[:, None] for a in smoothing(u, form))
    n_series, n_periods = y0.shape
    shape = (u.shape[0], n_series)
    m = season if form.seasonal else 1
    level, trend, tmp = np.zeros(shape), np.zeros(shape), np.empty(shape)
    seas = np.zeros((m, *shape))
    errors = np.empty((n_periods, *shape))
    y_cols, o_cols = np.ascontiguousarray(y0.T), np.ascontiguousarray(obs.T)
    for t in range(n_periods):
        e = errors[t]
        if form.trend:
            np.multiply(phi, trend, out=trend)
            level += trend
        np.subtract(y_cols[t], level, out=e)
        if form.seasonal:
            e -= seas[t % m]
        e *= o_cols[t]
        level += np.multiply(alpha, e, out=tmp)
        if form.trend:
            trend += np.multiply(beta, e, out=tmp)
        if form.seasonal:
            seas[t % m] += np.multiply(gamma, e, out=tmp)
    return errors


def _trajectories(y0: FloatArray, obs: FloatArray, u: FloatArray, form: Form, season: int,
                  init: FloatArray) -> FloatArray:
    """Errors of R state trajectories per series: trajectory 0 filters the data, the others
    filter zeros; all skip unobserved periods.

    Args:
        init: (R, P, 2 + m) initial level, trend and seasonal slots of each trajectory.

    Returns:
        E (T, R, P).
    """
    alpha, beta, gamma, phi = smoothing(u, form)
    n_periods = y0.shape[1]
    m = season if form.seasonal else 1
    level, trend = init[:, :, 0].copy(), init[:, :, 1].copy()
    seas = np.moveaxis(init[:, :, 2:2 + m], 2, 0).copy()  # copy: never write into `init`
    errors = np.empty((n_periods, *level.shape))
    tmp = np.empty_like(level)
    y_cols, o_cols = np.ascontiguousarray(y0.T), np.ascontiguousarray(obs.T)
    for t in range(n_periods):
        e = errors[t]
        if form.trend:
            np.multiply(phi, trend, out=trend)
            level += trend
        np.negative(level, out=e)
        e[0] += y_cols[t]
        if form.seasonal:
            e -= seas[t % m]
        e *= o_cols[t]
        level += np.multiply(alpha, e, out=tmp)
        if form.trend:
            trend += np.multiply(beta, e, out=tmp)
        if form.seasonal:
            seas[t % m] += np.multiply(gamma, e, out=tmp)
    return errors


def _least_squares(gram: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Minimise ||e0 + E1 x||^2 per pair from the Gram (P, R, R) of [e0, E1].

    Returns:
        sse (P,), x (P, R-1).
    """
    c, h = gram[:, 1:, 1:], gram[:, 1:, 0]
    scale = np.trace(c, axis1=1, axis2=2)[:, None, None] + 1e-300
    c = c + _RIDGE * scale * np.eye(c.shape[1])
    x = -np.linalg.solve(c, h[:, :, None])[:, :, 0]
    sse = gram[:, 0, 0] + np.einsum("pi,pi->p", x, h)
    return np.maximum(sse, 0.0), x


def profile_fixed_season(y0: FloatArray, obs: FloatArray, u: FloatArray, form: Form,
                         season: int, seasonal0: FloatArray | None) -> tuple[FloatArray,
                                                                              FloatArray]:
    """Exact SSE per pair with the seasonal initial states held at `seasonal0` (P, m) and
    the level (and trend) initial states at their least-squares optimum.

    Returns:
        sse (P,), x0 (P, 2 + m) with the optimal level and trend and the given seasonals.
    """
    n_pairs = y0.shape[0]
    m = season if form.seasonal else 0
    n_traj = 2 + form.trend
    init = np.zeros((n_traj, n_pairs, 2 + max(m, 1)))
    if form.seasonal and seasonal0 is not None:
        init[0, :, 2:] = seasonal0
    init[1, :, 0] = 1.0
    if form.trend:
        init[2, :, 1] = 1.0
    errors = _trajectories(y0, obs, u, form, season, init)
    gram = np.einsum("tip,tjp->pij", errors, errors)
    sse, x = _least_squares(gram)
    x0 = init[0].copy()
    x0[:, 0] = x[:, 0]
    if form.trend:
        x0[:, 1] = x[:, 1]
    return sse, x0


def profile_full(y0: FloatArray, obs: FloatArray, u: FloatArray, form: Form,
                 season: int) -> tuple[FloatArray, FloatArray]:
    """Exact SSE per pair with every free initial state at its least-squares optimum.

    Costs about p times `profile_fixed_season` (p = free initial states), so it is used on
    few pairs: the final polish of each series' chosen seasonal form.

    Returns:
        sse (P,), x0 (P, 2 + m).
    """
    n_pairs = y0.shape[0]
    m = season if form.seasonal else 1
    p = form.n_states(season)
    init = np.zeros((p + 1, n_pairs, 2 + m))
    slots = [0, *([1] if form.trend else []), *range(2, 2 + (m - 1) * form.seasonal)]
    for r, slot in enumerate(slots, start=1):
        init[r, :, slot] = 1.0
    errors = _trajectories(y0, obs, u, form, season, init)
    stacked = np.ascontiguousarray(np.moveaxis(errors, 2, 0))  # (P, T, R)
    gram = np.matmul(np.swapaxes(stacked, 1, 2).copy(), stacked)
    sse, x = _least_squares(gram)
    x0 = np.zeros((n_pairs, 2 + m))
    x0[:, slots] = x
    return sse, x0


def end_states(y0: FloatArray, obs: FloatArray, u: FloatArray, form: Form, season: int,
               x0: FloatArray, n_steps: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
    """Filter each series from x0 for its own `n_steps` periods.

    Returns:
        sse (P,) over observed periods, and the state after the last step (P, 2 + m) with
        the seasonal part in circular-slot order (slot j = period j mod m).
    """
    alpha, beta, gamma, phi = smoothing(u, form)
    m = season if form.seasonal else 1
    level, trend = x0[:, 0].copy(), x0[:, 1].copy()
    seas = x0[:, 2:2 + m].T.copy()  # copy: never write into `x0`
    sse = np.zeros(len(level))
    for t in range(int(n_steps.max(initial=0))):
        live = t < n_steps
        s = seas[t % m]
        e = np.where(live, (y0[:, t] - level - phi * trend - s) * obs[:, t], 0.0)
        sse += e * e
        level = np.where(live, level + phi * trend + alpha * e, level)
        trend = np.where(live, phi * trend + beta * e, trend)
        s += gamma * e
    states = np.concatenate([level[:, None], trend[:, None], seas.T], axis=1)
    return sse, states
