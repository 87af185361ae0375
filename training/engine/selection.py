"""`auto`: a weighted combination of models per demand class, learned on earlier windows only.

`auto` combines the means of the models in `COMBINED` (LightGBM, ETS, seasonal naive: a
global learner, a local state-space model and the seasonal profile; when fewer than two of
them are backtested, every backtested model). Each demand class (`models.classify`) has its
own non-negative weights, fitted on all earlier windows' errors and shrunk towards equal
weights (`models.combine.fit_weights`); a class with fewer than `MIN_CLASS_ROWS` known cells
borrows the weights of all classes together, and before any window every model weighs the
same. The chosen "model" of a series is the combination's name, e.g.
"lgbm*0.52+ets*0.21+snaive*0.27" (`models.combine.weights_of` reads it).

Choosing one model per series (what `auto` did before) followed warm-up windows that did not
predict the scored ones; combining is better on both benchmark datasets (BENCHMARKS.md,
"Stronger peers (issue 19)").

The class state is a sum (`models.combine.gram_stats`), so partitions and releases add up.
A window's errors count only once they are known: with cutoffs closer than the horizon the
backtest passes the steps already past (`Selector.add(..., known=k)`), and a later call with
more steps known replaces that part-window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import DEFAULT_QUANTILES
from models.combine import (
    DEFAULT_SHRINK,
    combination_name,
    combine,
    fit_weights,
    gram_stats,
    weights_of,
)

if TYPE_CHECKING:
    from training.engine.windows import WindowForecasts

__all__ = ["COMBINED", "MIN_CLASS_ROWS", "SELECTION_QUANTILES", "Selector", "members",
           "weights_of"]

COMBINED = ("lgbm", "ets", "snaive")
MIN_CLASS_ROWS = 200
SELECTION_QUANTILES = DEFAULT_QUANTILES  # quantiles every model computes at every window

FloatArray = npt.NDArray[np.float64]


class Selector:
    """Per-class combination weights of `auto`; `choose` before `add` at each window.

    Attributes:
        candidates: the backtested models (besides `auto`).
        pool: the models `auto` combines.
        class_loss: class -> summed `gram_stats` of the pool (the class state; the name is
            kept for the Dask engine, which adds these up over partitions).
        class_n: class -> number of known cells behind `class_loss`.
    """

    def __init__(self, candidates: Sequence[str], *, shrink: float = DEFAULT_SHRINK) -> None:
        self.candidates = list(candidates)
        pool = [c for c in self.candidates if c in COMBINED]
        self.pool = pool if len(pool) >= 2 else list(self.candidates)
        self.shrink = shrink
        self.class_loss: dict[str, FloatArray] = {}
        self.class_n: dict[str, float] = {}
        self._partial: dict[pd.Timestamp, dict[str, FloatArray]] = {}

    def weights(self, cls: str) -> FloatArray:
        """The pool's weights for series of class `cls` (module doc)."""
        m = len(self.pool)
        if self.class_n.get(cls, 0.0) >= MIN_CLASS_ROWS:
            return fit_weights(self.class_loss[cls], m, shrink=self.shrink)
        if self.class_loss:
            total = np.sum(list(self.class_loss.values()), axis=0)
            return fit_weights(total, m, shrink=self.shrink)
        return np.full(m, 1.0 / m)

    def choose(self, w: WindowForecasts) -> tuple[npt.NDArray[np.str_], FloatArray]:
        """Each series' combination name and the combined mean forecast (series x horizon)."""
        some = w.means[self.pool[0]]
        out = np.empty_like(some)
        chosen = np.empty(len(some), dtype=object)
        for cls in np.unique(w.classes):
            sel = w.classes == cls
            name = combination_name(self.pool, self.weights(str(cls)))
            chosen[sel] = name
            out[sel] = combine(name, {m: w.means[m][sel] for m in self.pool})
        return chosen.astype(str), out

    def add(self, w: WindowForecasts,
            quantiles: Mapping[str, Mapping[float, FloatArray]] | None = None,  # noqa: ARG002
            *, known: int | None = None) -> None:
        """Add window `w`'s errors of the pool to the class state.

        `quantiles` is not used (combination weights are fitted on the means); it is kept
        so that the engines call every selector alike. `known`: only the first `known`
        horizon steps have happened yet (cutoffs closer than the horizon); a later call
        with more steps known replaces that part-window.
        """
        h = w.actual.shape[1]
        known = h if known is None else min(max(int(known), 0), h)
        forecasts = np.stack([w.means[m][:, :known] for m in self.pool], axis=-1)
        actual = w.actual[:, :known]
        now = {str(cls): gram_stats(forecasts[w.classes == cls], actual[w.classes == cls],
                                    w.scale[w.classes == cls])
               for cls in np.unique(w.classes)}
        before = self._partial.pop(w.cutoff, {})
        if known < h:
            self._partial[w.cutoff] = now
        for cls, stats in now.items():
            added = stats - before.get(cls, 0.0)
            self.class_loss[cls] = self.class_loss.get(cls, 0.0) + added
            self.class_n[cls] = self.class_n.get(cls, 0.0) + float(added[-1])


def members(name: str) -> list[str]:
    """The models a chosen name combines (a plain model name: the model itself)."""
    return list(weights_of(name))
