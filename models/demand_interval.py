"""Demand over the protection interval: what a node will sell before the next shipment lands.

A shipment decided now must cover demand until the shipment after it can arrive: the node's
lead time plus its review period. Forecasts give a distribution per
period (quantiles per step); this module adds the steps up into one distribution per
node x sku and answers the questions allocation and risk ask of it: P(demand > stock),
E[min(demand, stock)] (expected units sold), E[(demand - stock)+] (expected lost units).

How steps are combined: the comonotone sum (every step at the same quantile level) is exact
when forecast errors are perfectly correlated over the interval and too wide otherwise. Its
deviations from the summed mean are shrunk by the ratio of the interval's standard deviation
under an equicorrelation `correlation` to the comonotone one:
    Q(u) = sum_k w_k mean_k + f * sum_k w_k (Q_k(u) - mean_k),
    f = sqrt(sum w_k^2 s_k^2 + rho [(sum w_k s_k)^2 - sum w_k^2 s_k^2]) / sum w_k s_k,
with s_k the step's spread (q0.9 - q0.1) and w_k the share of step k inside the interval
(the last step counts fractionally; an interval longer than the forecast repeats its last
step). `correlation` is calibrated on backtest windows (training/policy/interval_check.py); the
default is the value measured on walmart_store_dept (BENCHMARKS.md, "Protection interval").

The result is a piecewise-linear quantile function on a fixed grid of levels, extended to
levels 0 and 1 by linear extrapolation (clipped at 0), so every question above has an exact,
vectorised answer.

Lost sales: a shipment decided now lands after the lead time; if the node runs out before,
that demand is lost, not served later. Given the lead-time part of the interval (`lead`),
`IntervalDemand.served(position)` is the demand the position plus the shipment can still
serve, D - (D_lead - position)+, so allocation values a shipment for what it can sell.

Ranking: `interval_demand` also attaches (`IntervalDemand.ranking`) the same forecast combined
with `RANKING_CORRELATION` (independent steps: a narrower distribution), which allocation uses
to place packs first (`models.allocation.staged`); every probability the user reads (risk,
stock-out before and after) comes from the calibrated distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.periods import period_days
from features.schema import ITEM, LEAD_TIME, NODE, REVIEW_PERIOD

__all__ = [
    "DEFAULT_CORRELATION",
    "DEFAULT_LEVELS",
    "RANKING_CORRELATION",
    "IntervalDemand",
    "combine_steps",
    "demand_from_steps",
    "interval_coverage",
    "interval_demand",
    "lead_periods",
    "protection_periods",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

DEFAULT_LEVELS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975,
                  0.99)
"""Per-step quantile levels to ask a forecaster for (they include the 80% and 95% bounds)."""
DEFAULT_CORRELATION = 1.0
"""Correlation of forecast errors across the steps of one interval. Calibrated on the
walmart_store_dept and generated backtests (training/policy/interval_check.py): 1.0 covered best on
both (errors within an interval move together: they are mostly level errors)."""
RANKING_CORRELATION = 0.0
"""Correlation of the narrower distribution allocation places packs with first
(`IntervalDemand.ranking`; BENCHMARKS.md, "Policy headroom against perfect foresight")."""


def protection_periods(nodes: pd.DataFrame, *, freq: str) -> pd.Series:
    """Lead time + review period of every node, in periods of `freq` (index: node_id)."""
    missing = [c for c in (NODE, LEAD_TIME, REVIEW_PERIOD) if c not in nodes]
    if missing:
        raise ValueError(f"`nodes` lacks column(s) {missing}; it must follow the nodes "
                         "contract (node_id, lead_time_days, review_period_days, ...).")
    days = nodes[LEAD_TIME].astype(float) + nodes[REVIEW_PERIOD].astype(float)
    return pd.Series((days / period_days(freq)).to_numpy(), index=nodes[NODE].astype(str),
                     name="periods")


def lead_periods(nodes: pd.DataFrame, *, freq: str) -> pd.Series:
    """Lead time of every node in periods of `freq` (index: node_id)."""
    if LEAD_TIME not in nodes:
        raise ValueError(f"`nodes` lacks column `{LEAD_TIME}`; it must follow the nodes "
                         "contract.")
    days = nodes[LEAD_TIME].astype(float).to_numpy()
    return pd.Series(days / period_days(freq), index=nodes[NODE].astype(str), name="lead")


@dataclass(frozen=True)
class IntervalDemand:
    """Demand over each series' protection interval as a piecewise-linear quantile function.

    Attributes:
        keys: `node_id`, `sku` of each row.
        mean: the forecast's mean demand over the interval.
        periods: interval length in forecast periods.
        levels: quantile levels of the knots, from 0 to 1 (shared by all rows).
        values: rows x levels, the quantile function at each knot (non-decreasing, >= 0).
        cum: rows x levels, its integral from level 0 to each knot (computed when None).
        lead: rows x levels, optional: the quantile function of the part of the interval
            before a shipment decided now can arrive (the lead time), comonotone with
            `values`. With it, `served` accounts for sales lost before the shipment lands.
        ranking: optional, the same forecast as a narrower distribution (same rows and
            levels) that allocation places packs with first (module doc); None: none.

    Example:
        >>> d = IntervalDemand.from_knots(levels=[0.0, 0.5, 1.0], values=[[0.0, 10.0, 20.0]])
        >>> float(d.sf(np.array([10.0]))[0]), float(d.expected_sales(np.array([20.0]))[0])
        (0.5, 10.0)
    """

    keys: pd.DataFrame
    mean: FloatArray
    periods: FloatArray
    levels: FloatArray
    values: FloatArray
    cum: FloatArray | None = field(default=None, repr=False)
    lead: FloatArray | None = field(default=None, repr=False)
    ranking: IntervalDemand | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.cum is None:  # integral of the quantile function from level 0 to each knot
            du = np.diff(self.levels)
            area = 0.5 * (self.values[:, 1:] + self.values[:, :-1]) * du
            cum = np.concatenate([np.zeros((len(self.values), 1)), np.cumsum(area, axis=1)],
                                 axis=1)
            object.__setattr__(self, "cum", cum)

    @classmethod
    def from_knots(cls, *, levels: Sequence[float], values: npt.ArrayLike,
                   keys: pd.DataFrame | None = None) -> IntervalDemand:
        """A distribution straight from knots (levels must start at 0 and end at 1)."""
        lv = np.asarray(levels, dtype=np.float64)
        vals = np.maximum.accumulate(np.clip(np.atleast_2d(np.asarray(values, float)), 0, None),
                                     axis=1)
        if lv[0] != 0.0 or lv[-1] != 1.0 or np.any(np.diff(lv) <= 0):
            raise ValueError("`levels` must increase from 0 to 1.")
        if keys is None:
            keys = pd.DataFrame({NODE: [f"N{i}" for i in range(len(vals))], ITEM: "S"})
        area = 0.5 * (vals[:, 1:] + vals[:, :-1]) * np.diff(lv)
        return cls(keys=keys, mean=area.sum(axis=1), periods=np.ones(len(vals)), levels=lv,
                   values=vals)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def expected(self) -> FloatArray:
        """Mean of the quantile function itself (what the expectations below integrate)."""
        return self._cum[:, -1]

    def take(self, rows: npt.ArrayLike, *, with_keys: bool = True) -> IntervalDemand:
        """The distribution of the given rows only (`with_keys=False` skips the key frame,
        for fast internal views)."""
        r = np.asarray(rows, dtype=np.intp)
        keys = self.keys.iloc[r].reset_index(drop=True) if with_keys else self.keys.iloc[:0]
        return IntervalDemand(keys=keys, mean=self.mean[r], periods=self.periods[r],
                              levels=self.levels, values=self.values[r], cum=self._cum[r],
                              lead=None if self.lead is None else self.lead[r],
                              ranking=None if self.ranking is None
                              else self.ranking.take(r, with_keys=with_keys))

    def scaled(self, factor: npt.ArrayLike) -> IntervalDemand:
        """Each row's distribution (lead part, ranking too) x its `factor` (>= 0): the same as
        scaling its forecast's steps (`combine_steps` is linear in them)."""
        c = np.broadcast_to(np.asarray(factor, dtype=np.float64), self.mean.shape)
        if not np.all(np.isfinite(c) & (c >= 0)):
            raise ValueError("`factor` must be finite and >= 0 for every row; got "
                             f"{c[~(np.isfinite(c) & (c >= 0))][:5].tolist()}.")
        col = c[:, None]
        return IntervalDemand(keys=self.keys, mean=self.mean * c, periods=self.periods,
                              levels=self.levels, values=self.values * col, cum=self._cum * col,
                              lead=None if self.lead is None else self.lead * col,
                              ranking=None if self.ranking is None
                              else self.ranking.scaled(c))

    def served(self, position: npt.ArrayLike) -> IntervalDemand:
        """The demand that `position` plus a shipment arriving after the lead time can
        serve, when sales lost before it arrives are lost, not backordered.

        Sales over the interval are min(D_lead, p) + min(D_rest, x + (p - D_lead)+) =
        min(Z, p + x) with Z = D - (D_lead - p)+; with lead and total comonotone Z's
        quantile function is Q(u) - (Q_lead(u) - p)+. Without `lead`, Z = D.
        """
        if self.lead is None:
            return self
        pos = np.asarray(position, dtype=np.float64)[:, None]
        values = np.maximum.accumulate(
            np.maximum(self.values - np.maximum(self.lead - pos, 0.0), 0.0), axis=1)
        served = IntervalDemand(keys=self.keys, mean=self.mean, periods=self.periods,
                                levels=self.levels, values=values,
                                ranking=None if self.ranking is None
                                else self.ranking.served(position))
        object.__setattr__(served, "mean", self.mean - (self.expected - served.expected))
        return served

    @property
    def _cum(self) -> FloatArray:
        assert self.cum is not None
        return self.cum

    def quantile(self, q: float | FloatArray, rows: IntArray | None = None) -> FloatArray:
        """Demand quantile at level `q` (a scalar, or one level per row)."""
        vals = self.values if rows is None else self.values[rows]
        n, k = vals.shape
        u = np.minimum(np.maximum(np.broadcast_to(np.asarray(q, float), (n,)), 0.0), 1.0)
        j = np.minimum(np.searchsorted(self.levels, u, side="right") - 1, k - 2)
        flat = vals.ravel()
        at = np.arange(n) * k + j
        lo = self.levels[j]
        v0 = flat[at]
        out: FloatArray = v0 + (u - lo) / (self.levels[j + 1] - lo) * (flat[at + 1] - v0)
        return out

    def _locate(self, y: FloatArray, rows: IntArray | None
                ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """For y (rows x m): CDF, the knot just below (value, level, integral) and total."""
        vals = self.values if rows is None else self.values[rows]
        cum = self._cum if rows is None else self._cum[rows]
        n, k = vals.shape
        y2 = y.reshape(n, y.size // n if n else 0)  # no rows: (0, 0), not an ambiguous -1
        count = (vals[:, None, :] <= y2[:, :, None]).sum(axis=2)
        j = np.minimum(np.maximum(count - 1, 0), k - 2)
        at = (np.arange(n) * k)[:, None] + j
        flat = vals.ravel()
        q0, q1 = flat[at], flat[at + 1]
        u0, u1 = self.levels[j], self.levels[j + 1]
        width = q1 - q0
        frac = np.divide(y2 - q0, width, out=np.ones_like(y2), where=width > 0)
        cdf = u0 + (u1 - u0) * np.minimum(np.maximum(frac, 0.0), 1.0)
        cdf = np.where(count == 0, 0.0, np.where(count >= k, 1.0, cdf))
        return cdf, q0, u0, cum.ravel()[at], cum[:, -1:]

    def sf(self, y: npt.ArrayLike, rows: IntArray | None = None) -> FloatArray:
        """P(demand > y): stock-out probability at stock y (y: one value per row, or rows x m)."""
        y = np.asarray(y, dtype=np.float64)
        cdf = self._locate(y, rows)[0]
        return (1.0 - cdf).reshape(y.shape)

    def expected_sales(self, y: npt.ArrayLike, rows: IntArray | None = None) -> FloatArray:
        """E[min(demand, y)]: expected units sold from stock y over the interval."""
        y = np.asarray(y, dtype=np.float64)
        cdf, q0, u0, cum0, total = self._locate(y, rows)
        y2 = y.reshape(cdf.shape)
        inside = cum0 + (cdf - u0) * (q0 + y2) * 0.5 + y2 * (1.0 - cdf)
        first = (self.values if rows is None else self.values[rows])[:, :1]
        out = np.where(y2 < first, np.maximum(y2, 0.0), np.where(cdf >= 1.0, total, inside))
        return out.reshape(y.shape)

    def expected_shortfall(self, y: npt.ArrayLike, rows: IntArray | None = None) -> FloatArray:
        """E[(demand - y)+]: expected units lost when only y is in stock."""
        total = self.expected if rows is None else self.expected[rows]
        y = np.asarray(y, dtype=np.float64)
        sales = self.expected_sales(y, rows)
        return np.maximum(total.reshape((-1,) + (1,) * (y.ndim - 1)) - sales, 0.0)


def _step_weights(periods: FloatArray, horizon: int, start: FloatArray | float = 0.0
                  ) -> FloatArray:
    """Share of each forecast step inside [start, start + periods); demand past the last
    step counts as more of the last step."""
    k = np.arange(horizon)[None, :]
    begin = np.broadcast_to(np.asarray(start, float), periods.shape)[:, None]
    end = begin + periods[:, None]
    w = np.clip(end - k, 0.0, 1.0) - np.clip(begin - k, 0.0, 1.0)
    w[:, -1] += np.maximum(end[:, 0] - horizon, 0.0) - np.maximum(begin[:, 0] - horizon, 0.0)
    return w


def combine_steps(step_values: FloatArray, step_means: FloatArray, *,
                  levels: Sequence[float] | FloatArray,
                  periods: FloatArray, correlation: float = DEFAULT_CORRELATION,
                  start: FloatArray | float = 0.0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Demand over [start, start + periods) from per-step quantiles (series x steps x levels)
    and means (series x steps); `start` = 0 is the first forecast period.

    Returns:
        mean (series), knot levels (0, levels..., 1) and knot values (series x knots).
    """
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"`correlation` must be in [0, 1]; got {correlation}.")
    lv = np.asarray(levels, dtype=np.float64)
    w = _step_weights(np.asarray(periods, float), step_values.shape[1], start)
    lo, hi = int(np.argmin(np.abs(lv - 0.1))), int(np.argmin(np.abs(lv - 0.9)))
    spread = w * np.maximum(step_values[:, :, hi] - step_values[:, :, lo], 0.0)
    total, square = spread.sum(axis=1), (spread**2).sum(axis=1)
    joint = np.sqrt(square + correlation * (total**2 - square))
    shrink = np.divide(joint, total, out=np.ones_like(total), where=total > 0)
    mean = (w * step_means).sum(axis=1)
    dev = np.einsum("sh,shl->sl", w, step_values - step_means[:, :, None])
    inner = np.maximum.accumulate(np.clip(mean[:, None] + shrink[:, None] * dev, 0, None), axis=1)
    return mean, *_extend(lv, inner)


def _extend(levels: FloatArray, inner: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Add knots at levels 0 and 1 by extrapolating the outer segments linearly."""
    s0 = (inner[:, 1] - inner[:, 0]) / (levels[1] - levels[0])
    s1 = (inner[:, -1] - inner[:, -2]) / (levels[-1] - levels[-2])
    first = np.clip(inner[:, 0] - s0 * levels[0], 0.0, None)
    last = inner[:, -1] + s1 * (1.0 - levels[-1])
    knots = np.concatenate([[0.0], levels, [1.0]])
    return knots, np.column_stack([first, inner, last])


def _quantile_columns(forecast: pd.DataFrame) -> tuple[list[str], FloatArray]:
    cols = [c for c in forecast.columns if c.startswith("q") and c[1:].replace(".", "").isdigit()]
    levels = np.array([float(c[1:]) for c in cols])
    order = np.argsort(levels)
    if len(cols) < 3 or not np.any(np.isclose(levels, 0.5)):
        raise ValueError("`forecast` needs at least 3 quantile columns including q0.5 (ask the "
                         "forecaster for `quantiles=DEFAULT_LEVELS`); got "
                         f"{sorted(cols)}.")
    return [cols[i] for i in order], levels[order]


def interval_demand(forecast: pd.DataFrame, *, periods: pd.Series | float,
                    lead: pd.Series | float | None = None,
                    correlation: float = DEFAULT_CORRELATION,
                    ranking_correlation: float | None = RANKING_CORRELATION) -> IntervalDemand:
    """Protection-interval demand for every series of a forecast frame.

    Args:
        forecast: long rows `node_id`, `sku`, `step`, `mean`, `q<level>`... with the same
            steps 1..H for every series (one forecast origin), as `Forecaster.predict` gives.
        periods: interval length in periods, per node (a Series indexed by node_id, e.g.
            `protection_periods(nodes, freq=...)`) or one number for all.
        lead: the part of the interval before a shipment decided now arrives (lead time in
            periods, same forms as `periods`, e.g. `lead_periods(nodes, freq=...)`); when
            given, allocation treats demand in it as lost if the node runs out (`served`).
        correlation: correlation of forecast errors across steps (see the module docstring).
        ranking_correlation: the correlation of the `ranking` distribution allocation
            places packs with first (module doc); None: none.
    """
    cols, levels = _quantile_columns(forecast)
    frame = forecast.sort_values([NODE, ITEM, "step"], kind="stable")
    keys = frame[[NODE, ITEM]].drop_duplicates().reset_index(drop=True)
    n, h = len(keys), int(frame["step"].max())
    if len(frame) != n * h:
        raise ValueError(f"`forecast` must hold steps 1..{h} for every series once; it has "
                         f"{len(frame)} rows for {n} series (pass one forecast origin).")
    values = frame[cols].to_numpy(np.float64).reshape(n, h, len(cols))
    means = frame["mean"].to_numpy(np.float64).reshape(n, h)
    per = _periods_of(keys, periods)
    lead_per = None if lead is None else np.minimum(_periods_of(keys, lead), per)
    return demand_from_steps(keys, values, means, levels=levels, periods=per, lead=lead_per,
                             correlation=correlation, ranking_correlation=ranking_correlation)


def demand_from_steps(keys: pd.DataFrame, step_values: FloatArray, step_means: FloatArray, *,
                      levels: Sequence[float] | FloatArray, periods: FloatArray,
                      lead: FloatArray | None = None, correlation: float = DEFAULT_CORRELATION,
                      ranking_correlation: float | None = RANKING_CORRELATION
                      ) -> IntervalDemand:
    """Interval demand from per-step quantiles (series x steps x levels) and means (series x
    steps): `combine_steps` over `periods` (and `lead`, its lead-time part), with the
    `ranking` distribution at `ranking_correlation` (None: no ranking distribution)."""

    def build(rho: float) -> IntervalDemand:
        mean, knots, vals = combine_steps(step_values, step_means, levels=levels,
                                          periods=periods, correlation=rho)
        lead_vals = None if lead is None else combine_steps(
            step_values, step_means, levels=levels, periods=lead, correlation=rho)[2]
        return IntervalDemand(keys=keys, mean=mean, periods=periods, levels=knots,
                              values=vals, lead=lead_vals)

    demand = build(correlation)
    if ranking_correlation is None:
        return demand
    return replace(demand, ranking=build(ranking_correlation))


def _periods_of(keys: pd.DataFrame, periods: pd.Series | float) -> FloatArray:
    if not isinstance(periods, pd.Series):
        return np.full(len(keys), float(periods))
    per = keys[NODE].astype(str).map(periods)
    if per.isna().any():
        missing = keys.loc[per.isna(), NODE].unique()[:5].tolist()
        raise ValueError(f"`periods` has no interval length for node(s) {missing}; add them to "
                         "`nodes` (lead_time_days, review_period_days).")
    return np.asarray(per, dtype=np.float64)


def interval_coverage(demand: IntervalDemand, actual: npt.ArrayLike, *,
                      widths: Sequence[float] = (0.8, 0.95)) -> dict[str, float]:
    """Share of `actual` interval demand inside each central interval, e.g. {"cover_80": .81}."""
    y = np.asarray(actual, dtype=np.float64)
    ok = np.isfinite(y)
    out = {}
    for width in widths:
        lo = demand.quantile((1 - width) / 2)
        hi = demand.quantile((1 + width) / 2)
        inside = (y >= lo) & (y <= hi)
        out[f"cover_{round(width * 100)}"] = float(inside[ok].mean()) if ok.any() else np.nan
    return out
