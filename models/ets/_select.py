"""Fit every allowed ETS form where it can win, then pick the AICc-best form per series.

Stages, each batched over series (all in standardised units, see `prepare`):
1. coarse grid per form (`coarse_search`); AAA and AAdA are skipped for series whose ANA
   score, even with the trend gain seen in the non-seasonal forms, is hopeless;
2. Nelder-Mead refinement (`refine`) of every form whose coarse AICc is within
   `REFINE_MARGIN` of the series' best coarse AICc;
3. for a seasonal winner, all initial states are re-solved exactly (`polish`), its
   smoothing parameters refined once more from there and the states re-solved again;
   every winner is then filtered to the end of the panel for its final states.
The reported SSE is always that of an explicit parameter set filtered over the data, so the
likelihood is exact even where a stage approximated (series with interior gaps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from models.ets._forms import FloatArray, Form
from models.ets._kernels import end_states
from models.ets._search import coarse_search, polish, refine

__all__ = ["FormFits", "Prepared", "fit_forms", "prepare"]

IntArray = npt.NDArray[np.int64]
PRUNE_MARGIN = 20.0
"""AICc points by which ANA (plus the non-seasonal trend gain) may trail the best
non-seasonal form before AAA and AAdA are not tried for a series."""
REFINE_MARGIN = {False: 6.0, True: 10.0}
"""AICc points by which a non-seasonal / seasonal form's coarse score may trail the best
coarse score and still be refined. Refinement rarely gains more than 4 points on a
non-seasonal form; a seasonal coarse score is rougher on series with interior gaps."""
NM_ITERS = {"ANN": 4, "AAN": 6, "AAdN": 10, "ANA": 18, "AAA": 24, "AAdA": 30}
"""Nelder-Mead iterations per form: the coarse grid already lands close for the
non-seasonal forms; the seasonal ones start further away and are refined for fewer series."""

_REL_FLOOR = 1e-10  # SSE floor per observation (standardised units): perfect fits tie


class FormFits(TypedDict):
    """Per-series arrays of the chosen fits (standardised units), see `fit_forms`."""

    form: npt.NDArray[np.str_]
    sse: FloatArray
    n_params: FloatArray
    alpha: FloatArray
    beta: FloatArray
    gamma: FloatArray
    phi: FloatArray
    states: FloatArray


@dataclass(frozen=True)
class Prepared:
    """Series left-aligned (first observation in column 0) and standardised.

    Attributes:
        y0, obs: (S, T) (y - centre) / scale with 0 where unobserved; 1.0 where observed.
        n_obs: observed periods; span: periods from first to last observation;
        n_steps: periods from the first observation to the end of the panel.
        centre, scale: per-series mean and standard deviation of the observations.
    """

    y0: FloatArray
    obs: FloatArray
    n_obs: IntArray
    span: IntArray
    n_steps: IntArray
    centre: FloatArray
    scale: FloatArray


def prepare(y: FloatArray) -> Prepared:
    """Left-align and standardise the rows of y (S, T); NaN marks unobserved periods."""
    observed = ~np.isnan(y)
    n_series, n_periods = y.shape
    n_obs = observed.sum(axis=1)
    first = np.where(n_obs > 0, observed.argmax(axis=1), n_periods)
    last = n_periods - 1 - observed[:, ::-1].argmax(axis=1)
    span = np.where(n_obs > 0, last - first + 1, 0)
    filled = np.where(observed, y, 0.0)
    centre = filled.sum(axis=1) / np.maximum(n_obs, 1)
    deviation = np.where(observed, y - centre[:, None], 0.0)
    spread = np.sqrt(np.einsum("st,st->s", deviation, deviation) / np.maximum(n_obs, 1))
    scale = np.where(spread > 1e-12 * np.maximum(np.abs(centre), 1e-300), spread, 1.0)
    cols = first[:, None] + np.arange(n_periods)
    inside = cols < n_periods
    cols = np.minimum(cols, n_periods - 1)
    obs = (np.take_along_axis(observed, cols, axis=1) & inside).astype(np.float64)
    values = np.take_along_axis(y, cols, axis=1)
    y0 = np.where(obs > 0, (values - centre[:, None]) / scale[:, None], 0.0)
    return Prepared(y0, obs, n_obs, span, n_periods - first, centre, scale)


@dataclass
class _Scores:
    """One form over all series (inf AICc where not fitted)."""

    aicc: FloatArray
    sse: FloatArray
    u: FloatArray
    x0: FloatArray


def _aicc(sse: FloatArray, n_obs: IntArray, form: Form, season: int) -> FloatArray:
    n = n_obs.astype(np.float64)
    k = form.n_params(season)
    sse = np.maximum(sse, _REL_FLOOR * n)
    return n * np.log(sse / n) + 2 * k * n / (n - k - 1)


def _coarse(data: Prepared, form: Form, season: int, rows: IntArray) -> _Scores:
    n_series = len(data.n_obs)
    m = season if form.seasonal else 1
    out = _Scores(np.full(n_series, np.inf), np.full(n_series, np.nan),
                  np.zeros((n_series, 4)), np.zeros((n_series, 2 + m)))
    if rows.size == 0:
        return out
    rows = rows[np.argsort(data.span[rows], kind="stable")]
    sse, u, x0 = coarse_search(data.y0[rows], data.obs[rows], data.span[rows], form, season)
    out.aicc[rows] = _aicc(sse, data.n_obs[rows], form, season)
    out.sse[rows], out.u[rows], out.x0[rows] = sse, u, x0
    return out


def _prune_mask(scores: dict[str, _Scores], n_series: int) -> npt.NDArray[np.bool_]:
    """Series where AAA / AAdA cannot plausibly beat the non-seasonal forms."""
    if "ANA" not in scores:
        return np.zeros(n_series, dtype=bool)
    flat = [scores[n].aicc for n in ("ANN", "AAN", "AAdN") if n in scores]
    best_flat = np.min(flat, axis=0) if flat else np.full(n_series, np.inf)
    trended = [scores[n].aicc for n in ("AAN", "AAdN") if n in scores]
    gain = np.zeros(n_series)
    if "ANN" in scores and trended:
        with np.errstate(invalid="ignore"):
            gain = np.nan_to_num(np.maximum(scores["ANN"].aicc - np.min(trended, axis=0), 0.0),
                                 posinf=0.0)
    return scores["ANA"].aicc - gain > best_flat + PRUNE_MARGIN


def _coarse_all(data: Prepared, wanted: dict[Form, npt.NDArray[np.bool_]],
                season: int) -> dict[str, _Scores]:
    scores: dict[str, _Scores] = {}
    for form in sorted(wanted, key=lambda f: (f.seasonal, f.trend, f.damped)):
        rows = wanted[form]
        if form.seasonal and form.trend:
            rows = rows & ~_prune_mask(scores, len(rows))
        scores[form.name] = _coarse(data, form, season, np.flatnonzero(rows))
    return scores


def _wanted(n_obs: IntArray, forms: tuple[Form, ...],
            season: int) -> dict[Form, npt.NDArray[np.bool_]]:
    """Series each form is fitted to: enough observations; ANN also for series no listed
    form can take."""
    wanted = {f: n_obs >= f.min_obs(season) for f in forms}
    orphans = ~np.any(list(wanted.values()), axis=0)
    ann = Form("ANN", trend=False, damped=False, seasonal=False)
    rescued = orphans & (n_obs >= ann.min_obs(season))
    if rescued.any():
        wanted[ann] = wanted.get(ann, np.zeros_like(rescued)) | rescued
    return wanted


def _refine_all(data: Prepared, forms: list[Form], scores: dict[str, _Scores],
                season: int) -> None:
    """Refine, in place, every form that is within REFINE_MARGIN of the best coarse score."""
    best = np.min([s.aicc for s in scores.values()], axis=0)
    for form in forms:
        s = scores[form.name]
        margin = REFINE_MARGIN[form.seasonal]
        rows = np.flatnonzero(np.isfinite(s.aicc) & (s.aicc <= best + margin))
        s.aicc[np.isfinite(s.aicc)] = np.inf  # only refined fits compete
        if rows.size == 0:
            continue
        sse, u, x0 = refine(data.y0[rows], data.obs[rows], form, season, s.u[rows],
                            s.x0[rows], iters=NM_ITERS[form.name])
        s.sse[rows], s.u[rows], s.x0[rows] = sse, u, x0
        s.aicc[rows] = _aicc(sse, data.n_obs[rows], form, season)


def fit_forms(data: Prepared, forms: tuple[Form, ...], season: int) -> FormFits:
    """Choose and fit the AICc-best form of every series.

    Returns:
        arrays over series: form, sse, n_params (NaN for the mean fallback), alpha, beta,
        gamma, phi, and states (S, 2 + season) in the public layout, standardised units.
    """
    wanted = _wanted(data.n_obs, forms, season)
    scores = _coarse_all(data, wanted, season)
    fitted = list(wanted)
    _refine_all(data, fitted, scores, season)
    table = np.array([scores[f.name].aicc for f in fitted]).reshape(len(fitted), -1)
    winner = np.where(np.isfinite(table).any(axis=0), table.argmin(axis=0), -1)
    out = _fallback(data, season)
    for i, form in enumerate(fitted):
        rows = np.flatnonzero(winner == i)
        if rows.size:
            _finish(data, form, scores[form.name], season, rows, out)
    return out


def _fallback(data: Prepared, season: int) -> FormFits:
    """The mean model for every series (overwritten where a form is fitted)."""
    n_series = len(data.n_obs)
    nan = np.full(n_series, np.nan)
    return {
        "form": np.full(n_series, "ANN", dtype="<U4"),
        "sse": np.einsum("st,st->s", data.y0, data.y0),
        "n_params": nan.copy(), "alpha": np.zeros(n_series), "beta": nan.copy(),
        "gamma": nan.copy(), "phi": nan.copy(), "states": np.zeros((n_series, 2 + season)),
    }


def _second_round(y0: FloatArray, obs: FloatArray, form: Form, season: int, u: FloatArray,
                  sse: FloatArray, x0: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Re-solve all initial states, refine the smoothing parameters again from there (the
    seasonal states held fixed in `refine` may have pinned them) and re-solve once more."""
    sse, x0 = polish(y0, obs, form, season, u, sse, x0)
    sse2, u2, x02 = refine(y0, obs, form, season, u, x0, iters=NM_ITERS[form.name])
    sse2, x02 = polish(y0, obs, form, season, u2, sse2, x02)
    better = sse2 < sse
    return (np.where(better, sse2, sse), np.where(better[:, None], u2, u),
            np.where(better[:, None], x02, x0))


def _finish(data: Prepared, form: Form, s: _Scores, season: int, rows: IntArray,
            out: FormFits) -> None:
    """Polish the winners of `form`, filter them to the panel end and write their outputs."""
    y0, obs = data.y0[rows], data.obs[rows]
    u, sse, x0 = s.u[rows], s.sse[rows], s.x0[rows]
    if form.seasonal:
        sse, u, x0 = _second_round(y0, obs, form, season, u, sse, x0)
    sse, state = end_states(y0, obs, u, form, season, x0, data.n_steps[rows])
    if form.seasonal:
        slots = (data.n_steps[rows, None] + np.arange(season)) % season
        seasonal = np.take_along_axis(state[:, 2:], slots, axis=1)
        shift = seasonal.mean(axis=1)
        out["states"][rows, 2:] = seasonal - shift[:, None]
        state[:, 0] += shift
    out["states"][rows, :2] = state[:, :2]
    out["form"][rows] = form.name
    out["sse"][rows] = np.maximum(sse, _REL_FLOOR * data.n_obs[rows])
    out["n_params"][rows] = form.n_params(season)
    alpha = u[:, 0]
    out["alpha"][rows] = alpha
    out["beta"][rows] = u[:, 1] * alpha if form.trend else np.nan
    out["gamma"][rows] = u[:, 2] * (1 - alpha) if form.seasonal else np.nan
    out["phi"][rows] = u[:, 3] if form.damped else np.nan
