"""Additive-error ETS with automatic form selection, fitted for many series at once.

`fit_ets(y, season=52)` fits, for every row of an (S, T) panel, the additive-error forms
ANN, AAN, AAdN (and ANA, AAA, AAdA when `season` > 1), estimating smoothing parameters and
initial states by maximum likelihood, and keeps the form with the lowest AICc. The state
recursion runs over time with arrays over series, and the smoothing parameters of all
series are searched together (see `models.ets._search`), so 30,000 weekly series take
seconds instead of the hours a per-series loop over statsmodels' `ETSModel` needs.

Missing values: NaN means not observed. Such a period adds nothing to the likelihood and
moves the state forward without an error correction; leading and trailing NaN are allowed.

Likelihood and AICc (per series, n = observed periods):
    sigma2 = SSE / n,   loglik = -n/2 * (log(2 pi sigma2) + 1),
    AICc = -2 loglik + 2 k n / (n - k - 1),   k = smoothing params + free initial states + 1.
Free initial states are level, trend and m - 1 seasonal ones (one seasonal state is not
identified next to the level), as in R's forecast::ets and statsforecast. statsmodels'
`ETSModel` counts all m seasonal states, so its AICc uses k + 1 for seasonal forms (its llf
is the same function): `aicc(fit.loglik, fit.nobs, n_params + 1)` compares like for like.

Short series: a form needs n > (k - 1) + 4 observations (R's rule); series too short for any
seasonal form get non-seasonal forms only, and series with fewer than 7 observations (ANN
needs 7) get the mean of their observations as a flat forecast (alpha = 0, AICc NaN).

State layout (`ETSFit.states`, one row per series, in the units of `y`):
    [:, 0]        level after the last period of the panel
    [:, 1]        trend (0 without a trend)
    [:, 2 + j]    seasonal component of period T + 1 + j, j = 0..m-1 (m = `season`; only
                  present when a seasonal form was allowed; normalised to sum to 0)
so the h-step forecast is level + (phi + ... + phi^h) * trend + states[:, 2 + (h-1) % m].
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.ets._forms import FloatArray, parse_forms
from models.ets._select import FormFits, Prepared, fit_forms, prepare

__all__ = ["ETSFit", "aicc", "fit_ets", "forecast_ets"]


def aicc(loglik: FloatArray, nobs: npt.ArrayLike, n_params: npt.ArrayLike) -> FloatArray:
    """Small-sample AIC: -2 loglik + 2 k n / (n - k - 1) (inf when n <= k + 1)."""
    n, k = np.asarray(nobs, dtype=np.float64), np.asarray(n_params, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty = np.where(n - k - 1 > 0, 2 * k * n / (n - k - 1), np.inf)
    return -2.0 * np.asarray(loglik) + penalty


@dataclass(frozen=True, eq=False)
class ETSFit:
    """Fitted ETS models of S series: arrays over series, no per-period arrays.

    Attributes:
        form: (S,) chosen form per series, e.g. "AAdA".
        aicc: (S,) AICc of the chosen form (NaN for the mean fallback).
        loglik: (S,) Gaussian log-likelihood of the chosen form.
        nobs: (S,) observed periods used in the fit.
        params: alpha, beta, gamma, phi, each (S,); NaN where the form does not use it.
        states: (S, 2 [+ season]) states after the last period (layout in the module doc).
        sigma2: (S,) one-step residual variance SSE / n (NaN with fewer than 2 observations).
        season: season length m used for the seasonal forms.

    Example:
        >>> y = np.tile([1.0, 5.0, 3.0, 2.0], 12)[None, :]
        >>> fit = fit_ets(y, season=4)
        >>> np.round(fit.forecast(4), 2).tolist()
        [[1.0, 5.0, 3.0, 2.0]]
    """

    form: npt.NDArray[np.str_]
    aicc: FloatArray
    loglik: FloatArray
    nobs: npt.NDArray[np.int64]
    params: dict[str, FloatArray]
    states: FloatArray
    sigma2: FloatArray
    season: int

    def _smoothing(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """alpha, beta, gamma, phi with unused ones neutral (0, 0, 0 and phi 1)."""
        p = self.params
        return (np.nan_to_num(p["alpha"]), np.nan_to_num(p["beta"]),
                np.nan_to_num(p["gamma"]), np.where(np.isnan(p["phi"]), 1.0, p["phi"]))

    def forecast(self, horizon: int) -> FloatArray:
        """(S, horizon) point forecasts (the mean) for the periods after the last one."""
        h = _check_horizon(horizon)
        _, _, _, phi = self._smoothing()
        damped_sum = np.cumsum(phi[:, None] ** np.arange(1, h + 1), axis=1)
        mean = self.states[:, :1] + damped_sum * self.states[:, 1:2]
        if self.states.shape[1] > 2:
            mean += self.states[:, 2 + np.arange(h) % self.season]
        return mean

    def forecast_variance(self, horizon: int) -> FloatArray:
        """(S, horizon) variance of the h-step forecast error (Hyndman et al. 2008, class 1):
        sigma2 * (1 + sum_{j<h} c_j^2), c_j = alpha + beta (phi + .. + phi^j) + gamma [m | j]."""
        h = _check_horizon(horizon)
        alpha, beta, gamma, phi = self._smoothing()
        j = np.arange(1, h)
        damped_sum = np.cumsum(phi[:, None] ** j, axis=1) if h > 1 else np.zeros((len(phi), 0))
        c = alpha[:, None] + beta[:, None] * damped_sum + gamma[:, None] * (j % self.season == 0)
        spread = np.concatenate([np.zeros((len(phi), 1)), np.cumsum(c**2, axis=1)], axis=1)
        return self.sigma2[:, None] * (1.0 + spread)

    def update(self, y_new: npt.ArrayLike) -> ETSFit:
        """Filter the states over new periods `y_new` (S, k) with the fitted parameters.

        NaN periods move the state forward without an error correction. Parameters, AICc
        and sigma2 stay those of the fit; the forecasts of the result start after y_new.
        """
        y = _check_panel(y_new, "y_new")
        if y.shape[0] != len(self.form):
            raise ValueError(f"`y_new` has {y.shape[0]} rows; the fit has {len(self.form)} series.")
        alpha, beta, gamma, phi = self._smoothing()
        level, trend = self.states[:, 0].copy(), self.states[:, 1].copy()
        seas = self.states[:, 2:].copy()
        for col in y.T:
            now = seas[:, 0] if seas.shape[1] else 0.0
            e = np.nan_to_num(col - (level + phi * trend + now))
            level, trend = level + phi * trend + alpha * e, phi * trend + beta * e
            if seas.shape[1]:
                seas = np.concatenate([seas[:, 1:], (now + gamma * e)[:, None]], axis=1)
        states = np.column_stack([level, trend, seas])
        return ETSFit(self.form, self.aicc, self.loglik, self.nobs, self.params, states,
                      self.sigma2, self.season)

    def subset(self, rows: npt.ArrayLike) -> ETSFit:
        """The fit of the series `rows` (an index array, slice or boolean mask)."""
        idx = rows if isinstance(rows, slice) else np.asarray(rows)
        params = {k: v[idx] for k, v in self.params.items()}
        return ETSFit(self.form[idx], self.aicc[idx], self.loglik[idx], self.nobs[idx], params,
                      self.states[idx], self.sigma2[idx], self.season)


def _check_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"`horizon` must be a positive integer; got {horizon!r}.")
    return int(horizon)


def _check_panel(y: npt.ArrayLike, name: str = "y") -> FloatArray:
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be 2-D (series, periods); got shape {arr.shape}.")
    if np.isinf(arr).any():
        raise ValueError(f"`{name}` has infinite values; use NaN for unobserved periods.")
    return arr


@contextlib.contextmanager
def _single_thread_blas() -> Iterator[None]:
    """The search runs its own threads over series; BLAS threads on the small matrices only
    add contention (10x slower on a busy 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def fit_ets(y: npt.ArrayLike, *, season: int, forms: Sequence[str] | None = None) -> ETSFit:
    """Fit additive-error ETS to every row of `y` and keep the form with the lowest AICc.

    Args:
        y: (S, T) values, NaN where not observed.
        season: season length m (52 for weekly data); 1 for no seasonal forms.
        forms: forms to choose from (default: all of ANN, AAN, AAdN, ANA, AAA, AAdA that
            `season` allows). Series too short for every listed form fall back to ANN or
            to their mean.

    Returns:
        The fitted states and parameters, see `ETSFit`.
    """
    arr = _check_panel(y)
    chosen = parse_forms(forms, season)
    season = int(season)
    with _single_thread_blas():
        data = prepare(arr)
        result = fit_forms(data, chosen, season)
    width = 2 + season * any(f.seasonal for f in chosen)
    return _to_fit(data, result, season, width)


def _to_fit(data: Prepared, result: FormFits, season: int, width: int) -> ETSFit:
    """Undo the per-series standardisation and pack the arrays into an ETSFit."""
    scale, centre = data.scale, data.centre
    states = result["states"][:, :width] * scale[:, None]
    states[:, 0] += centre
    sse = result["sse"] * scale**2
    n = data.n_obs.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = np.where(n >= 2, sse / n, np.nan)
        loglik = np.where(np.isfinite(result["n_params"]),
                          -n / 2 * (np.log(2 * np.pi * sigma2) + 1), np.nan)
    params = {"alpha": result["alpha"], "beta": result["beta"], "gamma": result["gamma"],
              "phi": result["phi"]}
    return ETSFit(result["form"], aicc(loglik, n, result["n_params"]), loglik,
                  data.n_obs, params, states, sigma2, season)


def forecast_ets(y: npt.ArrayLike, *, horizon: int, season: int) -> FloatArray:
    """(S, horizon) point forecasts of the AICc-best additive-error ETS form of each row."""
    return fit_ets(y, season=season).forecast(horizon)

