"""Per-series model choice (`auto`) from earlier backtest windows only.

Each series keeps the running sum of its scaled errors (pinball loss, see `Selector.add`)
for every candidate over the windows seen so far. At a new window it takes the candidate
with the smallest mean error, shrunk towards its class: the candidate's mean error over all
series of the same class (weight `shrink` windows). Before any window it takes the class
routing of `models.classify`.
Candidates include the equal-weight blend of the two best global choices, because averaging
a global and a local model is often better than either.
A window's errors count only once they are known: with cutoffs closer than the horizon the
backtest passes the steps already past (`Selector.add(..., known=k)`), and the window counts
as k / h of a window until all its steps are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import DEFAULT_QUANTILES
from models.classify import DEFAULT_ROUTES

if TYPE_CHECKING:
    from training.engine.windows import WindowForecasts

__all__ = ["BLEND", "SELECTION_QUANTILES", "Selector", "members"]

BLEND = ("lgbm", "ets")  # the candidate "blend" is the equal-weight mean of these models

SELECTION_QUANTILES = DEFAULT_QUANTILES

# routing names of models.classify -> model names of models.zoo
_ZOO_NAME = {"croston_sba": "croston", "moving_average": "ma", "zero": "ma", "ets": "ets",
             "tsb": "tsb", "naive": "naive", "ma": "ma"}

FloatArray = npt.NDArray[np.float64]


class Selector:
    """Chooses one candidate per series; `choose` before `add` at each window."""

    def __init__(self, candidates: Sequence[str], *, shrink: float = 1e9) -> None:
        self.candidates = list(candidates)
        if all(m in self.candidates for m in BLEND):
            self.candidates.append("blend")
        self.shrink = shrink
        self.class_n: dict[str, float] = {}
        self.loss_sum: FloatArray | None = None
        self.n_windows: FloatArray | None = None
        self.class_loss: dict[str, FloatArray] = {}
        self._partial: dict[pd.Timestamp, tuple[FloatArray, FloatArray]] = {}

    def _means(self, w: WindowForecasts) -> dict[str, FloatArray]:
        return {c: _average([w.means[m] for m in members(c)]) for c in self.candidates}

    def choose(self, w: WindowForecasts) -> tuple[npt.NDArray[np.str_], FloatArray]:
        """Chosen candidate per series and the resulting mean forecast (series x horizon).

        Score = (own error sum + k x class mean error) / (own windows + k), k = `shrink`:
        a series with little evidence follows its class, one with much follows itself.
        """
        means = self._means(w)
        names = np.array(self.candidates)
        choice = np.array([self._prior(c) for c in w.classes], dtype=object)
        if self.loss_sum is not None and self.n_windows is not None:
            class_mean = np.stack([self._class_mean(c) for c in w.classes])
            score = ((self.loss_sum + self.shrink * class_mean)
                     / (self.n_windows[:, None] + self.shrink))
            choice = np.where(np.isfinite(score).all(axis=1), names[np.argmin(score, axis=1)],
                              choice)
        out = np.empty_like(next(iter(means.values())))
        for name in self.candidates:
            sel = choice == name
            out[sel] = means[name][sel]
        return choice.astype(str), out

    def _class_mean(self, cls: str) -> FloatArray:
        if cls in self.class_loss and self.class_n.get(cls, 0) > 0:
            return self.class_loss[cls] / self.class_n[cls]
        return np.full(len(self.candidates), np.nan)

    def _prior(self, cls: str) -> str:
        if cls in self.class_loss:
            return self.candidates[int(np.argmin(self.class_loss[cls]))]
        routed = _ZOO_NAME.get(DEFAULT_ROUTES.get(cls, "ma"), "ma")
        return routed if routed in self.candidates else self.candidates[0]

    def add(self, w: WindowForecasts, quantiles: Mapping[str, Mapping[float, FloatArray]],
            *, known: int | None = None) -> None:
        """Record every candidate's scaled error at window `w`.

        The error is the scaled pinball loss over `SELECTION_QUANTILES` when the candidate's
        quantiles are known (from still earlier windows), else the scaled absolute error of
        its mean: one loss that rewards both a good centre and a good spread.

        `known`: only the first `known` horizon steps have happened yet (cutoffs closer than
        the horizon). The window then counts as `known / h` of a window with the mean error
        of those steps; a later call with more steps known replaces that part-window.
        """
        h = w.actual.shape[1]
        known = h if known is None else min(max(int(known), 0), h)
        errs = [self._loss(w, c, quantiles, known) for c in self.candidates]
        err = np.stack(errs, axis=1)
        seen = ~np.isnan(err).all(axis=1)
        weight = known / h
        err = np.nan_to_num(err, nan=0.0) * weight
        evidence = seen * weight
        if self.loss_sum is None or self.n_windows is None:
            self.loss_sum = np.zeros_like(err)
            self.n_windows = np.zeros(len(err))
        before = self._partial.pop(w.cutoff, None)
        if known < h:
            self._partial[w.cutoff] = (err, evidence)
        if before is not None:  # a part-window recorded earlier: replace it
            err, evidence = err - before[0], evidence - before[1]
            seen = seen | (before[1] > 0)
        self.loss_sum += err
        self.n_windows += evidence
        for cls in np.unique(w.classes):
            sel = (w.classes == cls) & seen
            prev = self.class_loss.get(cls, np.zeros(len(self.candidates)))
            self.class_loss[cls] = prev + err[sel].sum(axis=0)
            self.class_n[cls] = self.class_n.get(cls, 0) + float(evidence[sel].sum())

    def _loss(self, w: WindowForecasts, name: str,
              quantiles: Mapping[str, Mapping[float, FloatArray]], known: int) -> FloatArray:
        """Per series: the candidate's mean scaled loss over the first `known` steps."""
        parts = members(name)
        actual = w.actual[:, :known]
        mean = _average([w.means[m] for m in parts])[:, :known]
        q = ({tau: _average([quantiles[m][tau] for m in parts])[:, :known]
              for tau in SELECTION_QUANTILES} if all(m in quantiles for m in parts) else None)
        if q:
            losses = [_pinball(actual, q[tau], tau) for tau in SELECTION_QUANTILES]
            loss = np.mean(losses, axis=0) * 2.0
        else:
            loss = np.abs(mean - actual)
        if loss.shape[1] == 0:
            return np.full(len(loss), np.nan)
        known_periods = (~np.isnan(loss)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # series with no actuals: 0 / 0
            return np.nansum(loss, axis=1) / known_periods / w.scale


def members(name: str) -> list[str]:
    """The models a candidate averages: the blend's members, or the model itself."""
    return list(BLEND) if name == "blend" else [str(name)]


def _average(arrays: list[FloatArray]) -> FloatArray:
    """Mean of the arrays; a single array is returned as is (no copy)."""
    return arrays[0] if len(arrays) == 1 else np.mean(arrays, axis=0)


def _pinball(y: FloatArray, q: FloatArray, tau: float) -> FloatArray:
    diff = y - q
    return np.where(diff >= 0, tau * diff, (tau - 1.0) * diff)
