"""Training set for direct multi-horizon forecasting.

One row per series and forecast origin t. Origin features use data up to and including t
only; targets are units at t + 1 .. t + h. Values that are known in advance for a target
period (calendar, planned price and promo, last season's units) live in `known`, one column
per horizon step, so a model can be trained per horizon (`horizon_frame(k)`) or once with
the horizon as a feature (`stack()`), without rebuilding the expensive origin features.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from features import lags as L
from features.calendar import calendar_features
from features.hierarchy import hierarchy_totals
from features.history import Panel, build_panel, period_index, season_length
from features.schema import (
    CENSORED,
    CHANNEL,
    DATE,
    ITEM,
    LEAD_TIME,
    NODE,
    PRICE,
    PRIORITY,
    PROMO,
    REVIEW_PERIOD,
    UNITS,
)

__all__ = ["ORIGIN", "FeatureSpec", "TrainingSet", "build_training_set"]

ORIGIN = "origin"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FeatureSpec:
    """Which features to build. Defaults depend on the frequency: see `for_freq`.

    Attributes:
        lags: lags of units at the origin (lag 1 = the origin period itself).
        windows: window lengths of rolling mean / std / zero share, all ending at lag 1.
        hierarchy_windows: window lengths of the parent, sku and node rolling means.
        price_window: periods of price history the target price is compared with.
        season: season length m, for `units_target_lag{m}`; None = from the frequency.
    """

    lags: tuple[int, ...] = (1, 2, 3, 4, 8, 13, 26, 52)
    windows: tuple[int, ...] = (4, 8, 13, 26, 52)
    hierarchy_windows: tuple[int, ...] = (4, 13)
    price_window: int = 13
    season: int | None = None

    @classmethod
    def for_freq(cls, freq: str) -> FeatureSpec:
        """Sensible lags and windows for weekly, daily or monthly data."""
        base = freq.split("-")[0].upper()
        if base == "D":
            return cls(lags=(1, 2, 3, 4, 5, 6, 7, 14, 21, 28), windows=(7, 14, 28, 91),
                       hierarchy_windows=(7, 28), price_window=28, season=7)
        if base in ("MS", "M", "ME"):
            return cls(lags=(1, 2, 3, 6, 12), windows=(3, 6, 12), hierarchy_windows=(3, 12),
                       price_window=6, season=12)
        return cls(season=season_length(freq))

    def validate(self) -> None:
        for name in ("lags", "windows", "hierarchy_windows"):
            values = getattr(self, name)
            if not values or min(values) < 1:
                raise ValueError(f"`{name}` must be a non-empty tuple of integers >= 1; "
                                 f"got {values}.")
        if self.price_window < 1:
            raise ValueError(f"`price_window` must be >= 1; got {self.price_window}.")


@dataclass(frozen=True)
class TrainingSet:
    """Origin features, targets and known-in-advance values for every series x origin.

    Attributes:
        keys: `node_id`, `sku`, `origin` for each row.
        features: origin features (float32, plus categorical `node_id`, `sku`, `channel`).
        targets: units at origin + k in column k - 1; NaN where not observed.
        censored: True where the target period was a stock-out: its units are a lower bound
            on demand, so a model must not learn them as demand.
        known: target-dated values known at the origin, name -> (rows x horizon) array.
        horizon: number of target periods.
        freq: the period grid.
        spec: the feature spec that built it.
    """

    keys: pd.DataFrame
    features: pd.DataFrame
    targets: npt.NDArray[np.float32]
    censored: npt.NDArray[np.bool_]
    known: dict[str, npt.NDArray[np.float32]] = field(repr=False)
    horizon: int
    freq: str
    spec: FeatureSpec

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def feature_names(self) -> list[str]:
        """Columns of `horizon_frame` / `stack` features, in order."""
        return [*self.features.columns, *(f"{k}_target" for k in self.known), "horizon"]

    def horizon_frame(self, k: int) -> tuple[pd.DataFrame, npt.NDArray[np.float32],
                                             npt.NDArray[np.bool_]]:
        """Features, target and censored flag for horizon step `k` (1-based), every row."""
        if not 1 <= k <= self.horizon:
            raise ValueError(f"`k` must be in 1..{self.horizon}; got {k}.")
        X = self.features.copy()
        for name, values in self.known.items():
            X[f"{name}_target"] = values[:, k - 1]
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
        step = _offset(self.freq)
        for k in horizons:
            X, y, cens = self.horizon_frame(k)
            keys = self.keys.assign(**{DATE: self.keys[ORIGIN] + k * step})
            if observed_only:
                keep = ~np.isnan(y)
                X, y, cens, keys = X[keep], y[keep], cens[keep], keys[keep]
            yield X, y, cens, keys


def _offset(freq: str) -> pd.DateOffset:
    base = freq.split("-")[0].upper()
    if base in ("MS", "M", "ME"):
        return pd.DateOffset(months=1)
    return pd.DateOffset(days=7 if base == "W" else 1)


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

    Returns:
        The training set. Rows are series-major, origins in date order.
    """
    if horizon < 1:
        raise ValueError(f"`horizon` must be >= 1; got {horizon}.")
    spec = spec or FeatureSpec.for_freq(freq)
    spec.validate()
    missing = [c for c in (DATE, NODE, ITEM, UNITS) if c not in history]
    if missing:
        raise KeyError(f"`history` lacks column(s) {missing}; validate the data folder first.")
    dates = pd.to_datetime(history[DATE])
    if cutoff is not None:
        history = history[dates <= pd.Timestamp(cutoff)]
        dates = dates[dates <= pd.Timestamp(cutoff)]
    hist_end = dates.max() if cutoff is None else pd.Timestamp(cutoff)
    room = horizon if future is not None and len(future) else 0
    panel = build_panel(history, freq=freq, end=hist_end + room * _offset(freq))
    n_periods = panel.n_periods - room
    if room:
        _apply_future(panel, future, n_periods=n_periods)
    rows_s, rows_t = _origin_cells(panel, origins, n_periods)
    cells = (rows_s, rows_t)

    features = _origin_features(panel, spec, nodes, cells, n_periods)
    targets, censored = _targets(panel, cells, horizon, n_periods)
    known = _known_values(panel, spec, cells, horizon, n_periods)
    keys = pd.DataFrame({
        NODE: panel.keys[NODE].to_numpy()[rows_s],
        ITEM: panel.keys[ITEM].to_numpy()[rows_s],
        ORIGIN: panel.dates[rows_t],
    })
    return TrainingSet(keys=keys, features=features, targets=targets, censored=censored,
                       known=known, horizon=horizon, freq=freq, spec=spec)


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


def _origin_cells(panel: Panel, origins: str, n_periods: int
                  ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    if origins == "last":
        s = np.arange(panel.n_series)
        return s, np.full(panel.n_series, n_periods - 1, dtype=np.intp)
    if origins != "all":
        raise ValueError(f"`origins` must be 'all' or 'last'; got {origins!r}.")
    return np.nonzero(panel.in_span())


def _origin_features(panel: Panel, spec: FeatureSpec, nodes: pd.DataFrame | None,
                     cells: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
                     n_periods: int) -> pd.DataFrame:
    """Every origin feature, each computed over the panel then cut down to `cells`."""
    s, t = cells
    cols: dict[str, npt.NDArray[np.float32]] = {}

    def put(name: str, values: FloatArray) -> None:
        cols[name] = values[:, :n_periods][s, t].astype(np.float32)

    units = panel.units[:, :n_periods]
    censored = panel.censored[:, :n_periods]
    # stock-out periods say how much stock there was, not how much demand: windows skip them
    demand = np.where(censored, np.nan, units)
    for lag_ in spec.lags:
        put(f"units_lag{lag_}", L.lag(units, lag=lag_))
    for w in spec.windows:
        put(f"units_rollmean_lag1_w{w}", L.rolling_mean(demand, lag=1, window=w))
        put(f"units_rollstd_lag1_w{w}", L.rolling_std(demand, lag=1, window=w))
        put(f"units_zeroshare_lag1_w{w}", L.rolling_zero_share(demand, lag=1, window=w))
    cens = np.where(np.isnan(units), np.nan, censored.astype(np.float64))
    put(f"{CENSORED}_lag1", cens)
    put(f"{CENSORED}_share_lag1_w{max(spec.windows)}",
        L.rolling_mean(cens, lag=1, window=max(spec.windows)))
    put("periods_since_sale_lag1", L.periods_since_last_positive(units))
    put("series_age_lag1", L.series_age(panel.first, n_periods))
    put("price_lag1", panel.price[:, :n_periods])
    put("promo_lag1", panel.promo[:, :n_periods])
    put("on_hand_lag1", panel.on_hand[:, :n_periods])
    for level, totals in hierarchy_totals(_cut(panel, n_periods), nodes).items():
        for w in spec.hierarchy_windows:
            put(f"{level}_units_rollmean_lag1_w{w}", L.rolling_mean(totals, lag=1, window=w))
    frame = pd.DataFrame(cols)
    return _add_attributes(frame, panel, nodes, s)


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


def _ahead(values: FloatArray, cells: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
           horizon: int) -> FloatArray:
    """values[s, t + k] for k = 1..horizon; NaN past the array's end."""
    s, t = cells
    padded = _widen(values, values.shape[1] + horizon)
    cols = t[:, None] + np.arange(1, horizon + 1)[None, :]
    return padded[s[:, None], cols]


def _targets(panel: Panel, cells: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
             horizon: int, n_periods: int) -> tuple[npt.NDArray[np.float32],
                                                    npt.NDArray[np.bool_]]:
    units = panel.units[:, :n_periods]
    cens = panel.censored[:, :n_periods].astype(np.float64)
    y = _ahead(units, cells, horizon)
    c = _ahead(cens, cells, horizon)
    return y.astype(np.float32), c == 1.0


def _known_values(panel: Panel, spec: FeatureSpec,
                  cells: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]], horizon: int,
                  n_periods: int) -> dict[str, npt.NDArray[np.float32]]:
    """Target-dated values an origin can know: calendar, planned price/promo, last season."""
    s, t = cells
    out: dict[str, npt.NDArray[np.float32]] = {}
    grid = pd.date_range(panel.dates[0], periods=n_periods + horizon, freq=_offset(panel.freq))
    cal = calendar_features(grid, freq=panel.freq)
    target_t = t[:, None] + np.arange(1, horizon + 1)[None, :]
    for col in cal.columns:
        out[col] = cal[col].to_numpy()[target_t].astype(np.float32)
    price = _ahead(panel.price, cells, horizon)
    out["promo"] = _ahead(panel.promo, cells, horizon).astype(np.float32)
    out["price"] = price.astype(np.float32)
    ref = L.rolling_mean(panel.price[:, :n_periods], lag=1, window=spec.price_window)[s, t]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["price_ratio"] = (price / ref[:, None]).astype(np.float32)
    m = spec.season or season_length(panel.freq)
    # units m periods before the target: only known at the origin when that period is <= t
    back = target_t - m
    units = panel.units[:, :n_periods]
    valid = (back >= 0) & (back <= t[:, None])
    seasonal = np.where(valid, units[s[:, None], np.clip(back, 0, n_periods - 1)], np.nan)
    out[f"units_lag{m}"] = seasonal.astype(np.float32)
    return out
