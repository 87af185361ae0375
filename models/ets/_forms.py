"""The additive-error ETS forms, their parameter counts and their smoothing-parameter space.

A form is named like statsmodels' `short_name`: error, trend ("N", "A", "Ad"), season ("N",
"A"), e.g. "AAdA". Smoothing parameters are searched in unconstrained coordinates `v`
(one column per free parameter), mapped to the usual admissible region of statsmodels'
`ETSModel` and R's forecast::ets:

    alpha  in [1e-4, 1 - 1e-4]
    beta   = beta_star * alpha,          beta_star  in [1e-4, 1 - 1e-4]   (0 < beta < alpha)
    gamma  = gamma_star * (1 - alpha),   gamma_star in [1e-4, 1 - 1e-4]   (0 < gamma < 1 - alpha)
    phi    in [0.8, 0.98]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALL_FORMS",
    "BOUND",
    "FloatArray",
    "Form",
    "parse_forms",
    "smoothing",
    "to_unit",
    "to_v",
]

FloatArray = npt.NDArray[np.float64]

LOWER, UPPER = 1e-4, 1.0 - 1e-4
PHI_LOWER, PHI_UPPER = 0.8, 0.98
BOUND = float(np.log(UPPER / LOWER))
"""|v| limit: the logistic of +-BOUND is exactly UPPER / LOWER."""

ALL_FORMS: tuple[str, ...] = ("ANN", "AAN", "AAdN", "ANA", "AAA", "AAdA")


@dataclass(frozen=True)
class Form:
    """One additive-error ETS form."""

    name: str
    trend: bool
    damped: bool
    seasonal: bool

    @property
    def dim(self) -> int:
        """Number of smoothing parameters (alpha, beta, gamma, phi that apply)."""
        return 1 + self.trend + self.seasonal + self.damped

    def n_states(self, season: int) -> int:
        """Free initial states: level, trend, and season - 1 seasonal ones.

        One seasonal initial state is not identified (level + c and seasonals - c give the
        same fit), so it is fixed; R's forecast::ets and statsforecast count season - 1.
        """
        return 1 + self.trend + (season - 1) * self.seasonal

    def n_params(self, season: int) -> int:
        """Parameters counted in the AICc: smoothing + free initial states + sigma^2."""
        return self.dim + self.n_states(season) + 1

    def min_obs(self, season: int) -> int:
        """Fewest observations to fit this form: R's forecast::ets rule n > npars + 4, and
        two full seasons for seasonal forms. With fewer, m seasonal states can absorb
        isolated spikes of a short intermittent series and fit it almost exactly."""
        return max(self.n_params(season) + 4, 2 * season * self.seasonal)


def _form(name: str) -> Form:
    return Form(name, trend=name[1] == "A", damped="d" in name, seasonal=name[-1] == "A")


def parse_forms(forms: Sequence[str] | None, season: int) -> tuple[Form, ...]:
    """Validate `forms` (default: all six, seasonal ones only when `season` > 1)."""
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ValueError(f"`season` must be a positive integer (1 = no season); got {season!r}.")
    names = [n for n in ALL_FORMS if season > 1 or n[-1] == "N"] if forms is None else list(forms)
    unknown = [n for n in names if n not in ALL_FORMS]
    if unknown or not names:
        raise ValueError(f"`forms` must be a non-empty subset of {ALL_FORMS}; got {forms!r}.")
    if season == 1 and any(n[-1] == "A" for n in names):
        raise ValueError("seasonal `forms` need `season` > 1; pass the season length.")
    return tuple(_form(n) for n in dict.fromkeys(names))


def _logistic(v: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-np.clip(v, -BOUND, BOUND)))


def to_unit(v: FloatArray, form: Form) -> FloatArray:
    """Unconstrained (P, dim) -> (P, 4) of alpha, beta_star, gamma_star, phi (unused: 0, 0, 1)."""
    u = np.zeros((v.shape[0], 4))
    u[:, 3] = 1.0
    cols = iter(range(v.shape[1]))
    u[:, 0] = _logistic(v[:, next(cols)])
    if form.trend:
        u[:, 1] = _logistic(v[:, next(cols)])
    if form.seasonal:
        u[:, 2] = _logistic(v[:, next(cols)])
    if form.damped:
        frac = (_logistic(v[:, next(cols)]) - LOWER) / (UPPER - LOWER)
        u[:, 3] = PHI_LOWER + (PHI_UPPER - PHI_LOWER) * frac
    return u


def to_v(u: FloatArray, form: Form) -> FloatArray:
    """Inverse of `to_unit` (values are clipped into the admissible region first)."""

    def logit(p: FloatArray) -> FloatArray:
        p = np.clip(p, LOWER, UPPER)
        return np.log(p / (1.0 - p))

    cols = [logit(u[:, 0])]
    if form.trend:
        cols.append(logit(u[:, 1]))
    if form.seasonal:
        cols.append(logit(u[:, 2]))
    if form.damped:
        frac = (np.clip(u[:, 3], PHI_LOWER, PHI_UPPER) - PHI_LOWER) / (PHI_UPPER - PHI_LOWER)
        cols.append(logit(LOWER + (UPPER - LOWER) * frac))
    return np.stack(cols, axis=1)


def smoothing(u: FloatArray, form: Form) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """alpha, beta, gamma, phi from (P, 4) unit coordinates; unused ones are 0 (phi: 1 or 0).

    phi is 0 without a trend so that `phi * trend` vanishes; with an undamped trend it is 1.
    """
    alpha = u[:, 0]
    beta = u[:, 1] * alpha if form.trend else np.zeros_like(alpha)
    gamma = u[:, 2] * (1.0 - alpha) if form.seasonal else np.zeros_like(alpha)
    phi = (u[:, 3] if form.damped else np.ones_like(alpha)) if form.trend else np.zeros_like(alpha)
    return alpha, beta, gamma, phi
