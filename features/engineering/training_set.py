"""Training set for direct multi-horizon forecasting.

One row per series and forecast origin t. Origin features use data up to and including t
only; targets are units at t + 1 .. t + h. Values that are known in advance for a target
period (calendar, planned price and promo, last season's units) live in `known`, one column
per horizon step, so a model can be trained per horizon (`horizon_frame(k)`) or once with
the horizon as a feature (`stack()`), without rebuilding the expensive origin features.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import FeatureSpec
from features.engineering import lags as L
from features.engineering.calendar import calendar_features
from features.engineering.hierarchy import hierarchy_totals
from features.engineering.history import Panel, build_panel
from features.engineering.known import KnownValues
from features.periods import period_index, period_offset, season_length
from features.schema import (
    CENSORED,
    CHANNEL,
    DATE,
    ITEM,
    LEAD_TIME,
    NODE,
    PARENT,
    PRICE,
    PRIORITY,
    PROMO,
    REVIEW_PERIOD,
    UNITS,
)

__all__ = ["ORIGIN", "TrainingSet", "build_training_set"]

ORIGIN = "origin"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainingSet:
    """Origin features, targets and known-in-advance values for every series x origin.

    Attributes:
        keys: `node_id`, `sku`, `origin` for each row.
        features: origin features (float32, plus categorical `node_id`, `sku`, `channel`).
        targets: units at origin + k in column k - 1; NaN where not observed.
        censored: True where the target period was a stock-out: its units are a lower bound
            on demand, so a model must not learn them as demand.
        known: target-dated values known at the origin (calendar, planned price and promo,
            last season's units), looked up per horizon step.
        horizon: number of target periods.
        freq: the period grid.
        spec: the feature spec that built it.
    """

    keys: pd.DataFrame
    features: pd.DataFrame
    targets: npt.NDArray[np.float32]
    censored: npt.NDArray[np.bool_]
    known: KnownValues = field(repr=False)
    horizon: int
    freq: str
    spec: FeatureSpec

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def feature_names(self) -> list[str]:
        """Columns of `horizon_frame` / `stack` features, in order."""
        return [*self.features.columns, *(f"{k}_target" for k in self.known.names), "horizon"]

    def horizon_frame(self, k: int) -> tuple[pd.DataFrame, npt.NDArray[np.float32],
                                             npt.NDArray[np.bool_]]:
        """Features, target and censored flag for horizon step `k` (1-based), every row."""
        if not 1 <= k <= self.horizon:
            raise ValueError(f"`k` must be in 1..{self.horizon}; got {k}.")
        X = self.features.copy()
        for name, values in self.known.at(k).items():
            X[f"{name}_target"] = values
        X["horizon"] = np.float32(k)
        return X, self.targets[:, k - 1], self.censored[:, k - 1]

    def stack(self, horizons: Sequence[int] | None = None, *, observed_only: bool = True
              ) -> tuple[pd.DataFrame, npt.NDArray[np.float32], npt.NDArray[np.bool_],
                         pd.DataFrame]:
        """Long format, one row per series x origin x horizon step.

        Args:
            horizons: steps to include (default all).
            observed_only: drop rows whose target is not observed (NaN).

        Returns:
            X, y, censored and keys (`node_id`, `sku`, `origin`, `date` = target period).
        """
        parts = list(self._iter_steps(horizons or range(1, self.horizon + 1), observed_only))
        X = pd.concat([p[0] for p in parts], ignore_index=True)
        y = np.concatenate([p[1] for p in parts])
        cens = np.concatenate([p[2] for p in parts])
        keys = pd.concat([p[3] for p in parts], ignore_index=True)
        return X, y, cens, keys

    def _iter_steps(self, horizons: Sequence[int] | range, observed_only: bool) -> Iterator[
            tuple[pd.DataFrame, npt.NDArray[np.float32], npt.NDArray[np.bool_], pd.DataFrame]]:
        step = period_offset(self.freq)
        for k in horizons:
            X, y, cens = self.horizon_frame(k)
            keys = self.keys.assign(**{DATE: self.keys[ORIGIN] + k * step})
            if observed_only:
                keep = ~np.isnan(y)
                X, y, cens, keys = X[keep], y[keep], cens[keep], keys[keep]
            yield X, y, cens, keys


def build_training_set(
    history: pd.DataFrame,
    *,
    horizon: int,
    freq: str,
    spec: FeatureSpec | None = None,
    nodes: pd.DataFrame | None = None,
    cutoff: pd.Timestamp | str | None = None,
    future: pd.DataFrame | None = None,
    origins: Literal["all", "last"] = "all",
    totals: Mapping[str, pd.Series] | None = None,
    start: pd.Timestamp | str | None = None,
) -> TrainingSet:
    """Build features and targets from validated sell-through.

    Args:
        history: validated `sell_through` rows (see `features.schema`).
        horizon: number of periods to forecast (h >= 1).
        freq: the validated grid, e.g. "W-MON", "D", "MS".
        spec: lags and windows; defaults to `FeatureSpec.for_freq(freq)`.
        nodes: the `nodes` table, for node attributes and parent aggregates.
        cutoff: last period the features may see; rows after it are ignored entirely.
        future: planned `price` / `promo` for periods after the history (date, node_id, sku),
            used only as known-in-advance target values.
        origins: "all" = every period of every series (training), "last" = only the last
            period of the grid, for every series (forecasting).
        totals: hierarchy totals of the whole history (see `features.engineering.hierarchy`), when
            `history` holds only some of the series (a Dask partition); None = sum them here.
        start: first period of the grid (the whole history's first date for a partition);
            None = the first date in `history`.

    Returns:
        The training set. Rows are series-major, origins in date order.
    """
    if horizon < 1:
        raise ValueError(f"`horizon` must be >= 1; got {horizon}.")
    spec = spec or FeatureSpec.for_freq(freq)
    spec.validate()
    panel, n_periods = _history_panel(history, horizon=horizon, freq=freq, cutoff=cutoff,
                                      future=future, start=start)
    cells = _origin_cells(panel, origins, n_periods)
    features = _origin_features(panel, spec, nodes, cells, totals=totals)
    targets, censored = _targets(panel, cells, horizon)
    known = _known_values(panel, spec, cells, horizon)
    keys = pd.DataFrame({
        NODE: panel.keys[NODE].to_numpy()[cells.s],
        ITEM: panel.keys[ITEM].to_numpy()[cells.s],
        ORIGIN: panel.dates[cells.t],
    })
    return TrainingSet(keys=keys, features=features, targets=targets, censored=censored,
                       known=known, horizon=horizon, freq=freq, spec=spec)


def _history_panel(history: pd.DataFrame, *, horizon: int, freq: str,
                   cutoff: pd.Timestamp | str | None, future: pd.DataFrame | None,
                   start: pd.Timestamp | str | None) -> tuple[Panel, int]:
    """The panel of the history up to `cutoff`, with room for `future`'s planned values;
    and the number of its periods that are history."""
    missing = [c for c in (DATE, NODE, ITEM, UNITS) if c not in history]
    if missing:
        raise KeyError(f"`history` lacks column(s) {missing}; validate the data folder first.")
    dates = pd.to_datetime(history[DATE])
    if cutoff is not None:
        history = history[dates <= pd.Timestamp(cutoff)]
        dates = dates[dates <= pd.Timestamp(cutoff)]
    hist_end = dates.max() if cutoff is None else pd.Timestamp(cutoff)
    room = horizon if future is not None and len(future) else 0
    panel = build_panel(history, freq=freq, end=hist_end + room * period_offset(freq),
                        start=None if start is None else pd.Timestamp(start))
    n_periods = panel.n_periods - room
    if room:
        _apply_future(panel, future, n_periods=n_periods)
    return panel, n_periods


def _apply_future(panel: Panel, future: pd.DataFrame, *, n_periods: int) -> None:
    """Write planned price/promo of periods after the history into the panel's spare room."""
    lookup = pd.Series(np.arange(panel.n_series), index=pd.MultiIndex.from_frame(panel.keys))
    idx = pd.MultiIndex.from_frame(future[[NODE, ITEM]].astype(str))
    s = lookup.reindex(idx).to_numpy(dtype=np.float64)
    t = period_index(pd.to_datetime(future[DATE]), start=panel.dates[0], freq=panel.freq)
    ok = ~np.isnan(s) & ~np.isnan(t) & (t >= n_periods) & (t < panel.n_periods)
    for col, arr in ((PRICE, panel.price), (PROMO, panel.promo)):
        if col in future:
            values = pd.to_numeric(future[col], errors="coerce").to_numpy(dtype=np.float64)
            arr[s[ok].astype(np.intp), t[ok].astype(np.intp)] = values[ok]


def _widen(arr: FloatArray, width: int) -> FloatArray:
    if arr.shape[1] >= width:
        return arr
    pad = np.full((arr.shape[0], width - arr.shape[1]), np.nan)
    return np.concatenate([arr, pad], axis=1)


@dataclass(frozen=True)
class _Cells:
    """The (series, period) cells that become rows, and a fast way to read arrays at them.

    For every in-span origin, a boolean mask selects cells in the same series-major order as
    the index pairs and is several times faster than gathering by index.
    """

    s: npt.NDArray[np.intp]
    t: npt.NDArray[np.intp]
    n_periods: int
    mask: npt.NDArray[np.bool_] | None = None

    def take(self, values: FloatArray, *, ahead: int = 0) -> npt.NDArray[np.float32]:
        """values[s, t + ahead] per row (NaN past the array's end), as float32."""
        window = _widen(values, self.n_periods + ahead)[:, ahead:ahead + self.n_periods]
        picked = window[self.mask] if self.mask is not None else window[self.s, self.t]
        return picked.astype(np.float32)


def _origin_cells(panel: Panel, origins: str, n_periods: int) -> _Cells:
    if origins == "last":
        s = np.arange(panel.n_series)
        return _Cells(s, np.full(panel.n_series, n_periods - 1, dtype=np.intp), n_periods)
    if origins != "all":
        raise ValueError(f"`origins` must be 'all' or 'last'; got {origins!r}.")
    mask = panel.in_span()[:, :n_periods]
    s, t = np.nonzero(mask)
    return _Cells(s, t, n_periods, mask)


def _origin_features(panel: Panel, spec: FeatureSpec, nodes: pd.DataFrame | None,
                     cells: _Cells, *, totals: Mapping[str, pd.Series] | None = None
                     ) -> pd.DataFrame:
    """Every origin feature, each computed over the panel then cut down to `cells`.

    Feature groups are independent, so they run on a small thread pool (numpy releases the
    GIL in its loops); each group writes its columns straight into one float32 block, so the
    frame costs no extra copy.
    """
    groups = _feature_groups(panel, spec, nodes, cells.n_periods, totals=totals)
    offsets = np.cumsum([0] + [width for width, _ in groups])
    block = np.empty((len(cells.s), int(offsets[-1])), dtype=np.float32, order="F")
    names: list[list[str]] = [[] for _ in groups]

    def run(i: int) -> None:
        for j, (name, values) in enumerate(groups[i][1]()):
            block[:, offsets[i] + j] = cells.take(values)
            names[i].append(name)
        if len(names[i]) != groups[i][0]:
            raise RuntimeError(f"feature group {i} wrote {len(names[i])} columns, "
                               f"expected {groups[i][0]}")

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        list(pool.map(run, range(len(groups))))
    frame = pd.DataFrame(block, columns=[n for group in names for n in group], copy=False)
    return _add_attributes(frame, panel, nodes, cells.s)


_Group = tuple[int, Callable[[], Iterator[tuple[str, FloatArray]]]]


def _feature_groups(panel: Panel, spec: FeatureSpec, nodes: pd.DataFrame | None,
                    n: int, *, totals: Mapping[str, pd.Series] | None = None) -> list[_Group]:
    """Independent feature groups: (column count, generator of (name, panel-shaped array))."""
    units = panel.units[:, :n]
    censored = panel.censored[:, :n]

    def lags() -> Iterator[tuple[str, FloatArray]]:
        for lag_ in spec.lags:
            yield f"units_lag{lag_}", L.lag(units, lag=lag_)

    def windows() -> Iterator[tuple[str, FloatArray]]:
        # stock-out periods say how much stock there was, not how much demand: skip them
        demand = np.where(censored, np.nan, units)
        for stat, w, values in L.rolling_stats(demand, lag=1, windows=spec.windows):
            yield f"units_{'zeroshare' if stat == 'zeroshare' else 'roll' + stat}_lag1_w{w}", values

    def state() -> Iterator[tuple[str, FloatArray]]:
        cens = np.where(np.isnan(units), np.nan, censored.astype(np.float64))
        yield f"{CENSORED}_lag1", cens
        yield (f"{CENSORED}_share_lag1_w{max(spec.windows)}",
               L.rolling_mean(cens, lag=1, window=max(spec.windows)))
        yield "periods_since_sale_lag1", L.periods_since_last_positive(units)
        yield "series_age_lag1", L.series_age(panel.first, n)
        yield "price_lag1", panel.price[:, :n]
        yield "promo_lag1", panel.promo[:, :n]
        yield "on_hand_lag1", panel.on_hand[:, :n]

    levels = 3 if nodes is not None and PARENT in nodes else 2

    def hierarchy() -> Iterator[tuple[str, FloatArray]]:
        for level, sums in hierarchy_totals(_cut(panel, n), nodes, totals=totals).items():
            for _, w, values in L.rolling_stats(sums, lag=1, windows=spec.hierarchy_windows,
                                                stats=("mean",)):
                yield f"{level}_units_rollmean_lag1_w{w}", values

    return [(len(spec.windows) * 3, windows), (len(spec.lags), lags), (7, state),
            (levels * len(spec.hierarchy_windows), hierarchy)]


def _cut(panel: Panel, n_periods: int) -> Panel:
    if panel.units.shape[1] == n_periods:
        return panel
    return Panel(**{**panel.__dict__, "units": panel.units[:, :n_periods]})


def _categorical(labels: pd.Series, rows: npt.NDArray[np.intp]) -> pd.Categorical:
    """Per-series labels repeated for `rows`, as a categorical with sorted categories."""
    codes, categories = pd.factorize(labels, sort=True, use_na_sentinel=True)
    return pd.Categorical.from_codes(codes[rows], categories=categories.astype(str))


def _add_attributes(frame: pd.DataFrame, panel: Panel, nodes: pd.DataFrame | None,
                    s: npt.NDArray[np.intp]) -> pd.DataFrame:
    """Node and sku identity and node attributes (channel, priority, lead time, review).

    Mapped once per series and then repeated per row: mapping strings per row is the
    slowest thing this module could do.
    """
    series_nodes = panel.keys[NODE]
    frame[NODE] = _categorical(series_nodes, s)
    frame[ITEM] = _categorical(panel.keys[ITEM], s)
    if nodes is None:
        return frame
    attrs = nodes.drop_duplicates(NODE).set_index(NODE)
    if CHANNEL in attrs:
        frame[CHANNEL] = _categorical(series_nodes.map(attrs[CHANNEL]), s)
    for col in (PRIORITY, LEAD_TIME, REVIEW_PERIOD):
        if col in attrs:
            per_series = pd.to_numeric(series_nodes.map(attrs[col]), errors="coerce")
            frame[col] = per_series.to_numpy(dtype=np.float32)[s]
    return frame


def _targets(panel: Panel, cells: _Cells, horizon: int
             ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    n = cells.n_periods
    units = panel.units[:, :n]
    cens = panel.censored[:, :n].astype(np.float64)
    y = np.empty((len(cells.s), horizon), dtype=np.float32)
    c = np.empty((len(cells.s), horizon), dtype=np.bool_)
    for k in range(1, horizon + 1):
        y[:, k - 1] = cells.take(units, ahead=k)
        c[:, k - 1] = cells.take(cens, ahead=k) == 1.0
    return y, c


def _known_values(panel: Panel, spec: FeatureSpec, cells: _Cells, horizon: int
                  ) -> KnownValues:
    """Target-dated values an origin can know: calendar, planned price/promo, last season."""
    s, t, n_periods = cells.s, cells.t, cells.n_periods
    width = n_periods + horizon
    grid = pd.date_range(panel.dates[0], periods=width, freq=period_offset(panel.freq))
    cal = calendar_features(grid, freq=panel.freq)
    per_period = {col: cal[col].to_numpy(dtype=np.float32) for col in cal.columns}
    m = spec.season or season_length(panel.freq)
    per_series = {
        "promo": (_widen(panel.promo, width).astype(np.float32), 0, True),
        "price": (_widen(panel.price, width).astype(np.float32), 0, True),
        # units m periods before the target: known at the origin only while that is <= t
        f"units_lag{m}": (panel.units[:, :n_periods].astype(np.float32), -m, False),
    }
    ref = L.rolling_mean(panel.price[:, :n_periods], lag=1, window=spec.price_window)
    return KnownValues(rows=(s, t), per_series=per_series, per_period=per_period,
                       price_ref=cells.take(ref))
