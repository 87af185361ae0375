"""The rolling-origin backtest on Dask, with the local engine's answers.

Every per-series step runs per partition of whole series with the local code: the panel,
each window's local models (`training.engine.backtest.window_forecasts`: batched ETS,
baselines), the
LightGBM forecasts at each cutoff (boosters fitted on all partitions, `training.dask.lgbm`),
residual scales and demand classes. What is pooled over all series is combined on the
client from small per-partition pieces (`training.dask.pooled`), in three rounds, so that
it equals the local `_assemble`:

1. residuals: each partition returns its scaled residuals per model, horizon step and class
   for every release of `_assemble`'s schedule; the client pools them into the same
   `ConformalQuantiles` and computes, per window, the residual quantiles every group needs
   (a table: quantiles are order statistics, so pooling partitions changes nothing);
2. selection: each partition returns the class sums of `Selector.add` (the statistics of
   `auto`'s combination weights); the client adds them up per release; then `auto`'s own
   residuals are pooled like the models' (`training.dask.auto_quantiles`);
3. assembly: each partition replays `_assemble` with the class state of each window: the
   combination of `auto`, every model's quantiles, the scored rows, written to Parquet
   (`part-NNNNN.parquet`, one per partition), and the sums behind the metrics.

Nothing per row or per period reaches the client: only residuals (one float per series,
model, step and window, as the trained model's calibrators keep them) and sums.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import DEFAULT_QUANTILES
from features.contract.partitioned import Store, StoreSummary, summarize_history
from features.engineering.history import build_panel
from features.periods import period_offset, season_length
from features.schema import DATE, ITEM, NODE, UNITS
from models.lgbm import LGBMConfig, LGBMForecaster
from models.quantiles import ConformalQuantiles
from models.zoo import check_models, primary_model
from training.dask.auto_quantiles import auto_calibration
from training.dask.cluster import placement
from training.dask.lgbm import PartitionLGBM, fit_lgbm_dask, partition_inputs
from training.dask.metrics import combine_scores, partial_scores
from training.dask.pieces import forecast_rows, forecaster_piece
from training.dask.pooled import (
    Context,
    PartWindows,
    Table,
    TableQuantiles,
    calibrate,
    class_states,
    quantile_table,
    schedule,
    window_quantiles,
)
from training.engine.backtest import (
    CUTOFF,
    MODEL,
    BacktestConfig,
    long_rows,
    window_forecasts,
)
from training.engine.progress import bar
from training.engine.selection import SELECTION_QUANTILES, Selector
from training.engine.windows import cutoffs as rolling_cutoffs

__all__ = ["DaskBacktest", "grid_of", "run_backtest_dask"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class _Keep:
    """What phase 3 keeps besides the scored rows.

    Attributes:
        tail_periods: return each series' last pieces for a `Forecaster` (None = nothing).
        forecast_out: write the last window as forecast rows (`Forecaster.predict`) here.
        quantiles: the forecast's quantiles; tables: the final calibrators' residual
            quantiles for them (filled in after phase 1).
    """

    tail_periods: int | None = None
    forecast_out: Path | None = None
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    tables: dict[str, Table] = field(default_factory=dict)


@dataclass
class DaskBacktest:
    """What a Dask backtest produced: metric tables, where the predictions are, and what a
    forecaster needs (`keep`).

    Attributes:
        scores: `by` (tuple of columns) -> `evaluate`'s table.
        cutoffs: every window's cutoff (warm-up ones first).
        out, all_models: folders of the primary model's and every model's predictions.
        seconds: per model, task seconds summed over partitions; `wall/<phase>`: wall
            seconds of each phase (summary, lgbm_inputs, lgbm_fit, windows, calibrate,
            select, assemble).
        lgbm: the booster of the last cutoff.
        calibrators: every model's pooled residuals after the last window (with `keep`).
        parts: per partition, what `training.dask.forecast` assembles a Forecaster from.
        summary: the history's facts (date range, series, categories, hierarchy totals).
        n_rows: prediction rows written.
        client_peak_mib: the client process's peak memory (MiB) at the end of each phase
            (with a LocalCluster the scheduler lives in this process too).
    """

    scores: dict[tuple[str, ...], pd.DataFrame]
    cutoffs: list[pd.Timestamp]
    out: Path | None
    all_models: Path | None
    seconds: dict[str, float]
    lgbm: LGBMForecaster | None
    summary: StoreSummary
    n_rows: int
    calibrators: dict[str, ConformalQuantiles] = field(default_factory=dict, repr=False)
    parts: list[dict[str, Any]] = field(default_factory=list, repr=False)
    client_peak_mib: dict[str, float] = field(default_factory=dict)


def grid_of(summary: StoreSummary, freq: str) -> pd.DatetimeIndex:
    """The period grid of the whole history."""
    ends = pd.DataFrame({DATE: [summary.start, summary.end], NODE: "n", ITEM: "s", UNITS: 0.0})
    return build_panel(ends, freq=freq).dates


def _partition_windows(part: pd.DataFrame, ts: Any, boosters: dict[pd.Timestamp, Any] | None,
                       *, summary: StoreSummary, ctx: Context) -> PartWindows:
    """Phase 0: every window's forecasts of the partition's series (`window_forecasts`, as
    local)."""
    panel = build_panel(part, freq=ctx.freq, start=summary.start, end=summary.end)
    glob = PartitionLGBM(ts, boosters, panel.keys) if boosters else None
    seconds: dict[str, float] = {}
    windows = [window_forecasts(panel, int(panel.dates.get_loc(cut)), cut, ctx.models, ctx.season,
                       ctx.horizon, glob, seconds) for cut in ctx.cuts]  # type: ignore[arg-type]
    return PartWindows(keys=panel.keys, dates=panel.dates, freq=panel.freq, windows=windows,
                       seconds=seconds)


def _finish(pw: PartWindows, part: pd.DataFrame, index: int, *, tables: list[dict[str, Table]],
            states: list[tuple[dict[str, FloatArray], dict[str, float]]],
            auto_tables: list[Table | None], ctx: Context, summary: StoreSummary,
            out: Path | None, all_models: Path | None, primary: str,
            score_by: Sequence[tuple[str, ...]], outside_span: str, keep: _Keep
            ) -> dict[str, Any]:
    """Phase 3: `_assemble` for this partition with the pooled class state of each window;
    writes the scored rows and returns the metric sums (and a forecaster's pieces)."""
    selector = Selector(ctx.base)
    quants: list[dict[str, dict[float, FloatArray]]] = []
    parts, chosen = [], None
    view = pw.panel_view()
    for i, w in enumerate(pw.windows):
        for j, _, known in ctx.schedule[i]:
            selector.add(pw.windows[j], quants[j], known=known)
        q = window_quantiles(w, tables[i], ctx)
        if "auto" in ctx.models:
            selector.class_loss, selector.class_n = dict(states[i][0]), dict(states[i][1])
            chosen, w.means["auto"] = selector.choose(w)
            table = auto_tables[i]
            if table is not None:  # auto's own residuals, as locally
                q["auto"] = TableQuantiles(ctx.horizon, table).predict(
                    mean=w.means["auto"], scale=w.scale, groups=w.classes, quantiles=ctx.qs_all)
        if i >= ctx.warmup:
            for name in ctx.models:
                qs = {x: q[name][x] for x in ctx.quantiles}
                parts.append(long_rows(view, w, name, w.means[name], qs))  # type: ignore[arg-type]
        quants.append(q)
    result: dict[str, Any] = {"rows": 0, "seconds": pw.seconds}
    if parts:
        frame = pd.concat(parts, ignore_index=True)
        result["rows"] = len(frame)
        _write(frame, all_models, index)
        if out is not None:
            rows = frame[frame[MODEL] == primary]
            cols = [NODE, ITEM, CUTOFF, DATE, "mean", *[c for c in rows if c.startswith("q")]]
            _write(rows[cols].reset_index(drop=True), out, index)
        result["scores"] = {by: partial_scores(frame, part, freq=ctx.freq, by=by,
                                               outside_span=outside_span, start=summary.start,
                                               end=summary.end) for by in score_by}
    if keep.forecast_out is not None:
        _write(forecast_rows(pw, chosen, tables=keep.tables, quantiles=keep.quantiles,
                             primary=primary), keep.forecast_out, index)
    if keep.tail_periods is not None:
        result["piece"] = forecaster_piece(pw, part, chosen, primary=primary, end=summary.end,
                                           periods=keep.tail_periods)
    return result


def _write(frame: pd.DataFrame, folder: Path | None, index: int) -> None:
    if folder is not None:
        frame.to_parquet(folder / f"part-{index:05d}.parquet", index=False)


def _prepare(folder: Path | None) -> Path | None:
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    return folder


def _context(models: tuple[str, ...], config: BacktestConfig, freq: str,
             cuts: list[pd.Timestamp], dates: pd.DatetimeIndex, warmup: int) -> Context:
    ts = [int(dates.get_loc(c)) for c in cuts]
    releases, final = schedule(ts, config.horizon)
    return Context(models=models, base=[n for n in models if n != "auto"],
                    horizon=config.horizon, season=config.season or season_length(freq),
                    freq=freq, cuts=cuts, quantiles=config.quantiles,
                    qs_all=sorted({*config.quantiles, *SELECTION_QUANTILES}), warmup=warmup,
                    schedule=releases, final=final)


class _Laps:
    """Wall seconds of each phase since the previous one, and the client's peak memory;
    each phase (and each LightGBM fit) is a step of the progress bar `shown`."""

    def __init__(self, shown: Any) -> None:
        self.laps: dict[str, float] = {}
        self.peaks: dict[str, float] = {}
        self.shown = shown
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self.peaks[name] = peak_mib()
        self._last = now
        self.step(f"{name} done")

    def step(self, note: str) -> None:
        """One more step done (`note` says which)."""
        self.shown.set_postfix_str(note, refresh=False)
        self.shown.update()


def peak_mib() -> float:
    """This process's peak resident memory so far, MiB (0 where the platform cannot say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit_boosters(client: Any, parts: list[Any], where: list[str], summary_f: Any,
                  config: BacktestConfig, nodes: pd.DataFrame | None, freq: str,
                  cuts: list[pd.Timestamp], lap: _Laps
                  ) -> tuple[list[Any], dict[pd.Timestamp, LGBMForecaster]]:
    cfg = config.lgbm or LGBMConfig()
    # partition i's rows are built on, and stay on, worker where[i] (not where load or work
    # stealing would put them): the LightGBM fits reproduce
    both = [client.submit(partition_inputs, p, horizon=config.horizon, freq=freq,
                          spec=config.spec, nodes=nodes, summary=summary_f, cutoffs=cuts,
                          config=cfg, seed=cfg.seed + i, workers=[w], pure=False)
            for i, (p, w) in enumerate(zip(parts, where, strict=True))]
    ts_f = [client.submit(operator.getitem, b, 0, workers=[w])
            for b, w in zip(both, where, strict=True)]
    rows_f = [client.submit(operator.getitem, b, 1, workers=[w])
              for b, w in zip(both, where, strict=True)]
    client.gather(client.map(len, ts_f))
    del both  # the full training sets go: forecasts read the cutoff origins only
    lap("lgbm_inputs")
    boosters = {}
    for c in cuts:
        boosters[c] = fit_lgbm_dask(client, rows_f, cutoff=c, horizon=config.horizon,
                                    period=period_offset(freq), config=cfg, workers=where)
        lap.step(f"lgbm fit {c:%Y-%m-%d}")
    del rows_f
    lap("lgbm_fit")
    return ts_f, boosters


def run_backtest_dask(client: Any, store: Store, *, config: BacktestConfig,
                      cutoffs: Sequence[pd.Timestamp] | None = None, out: Path | None = None,
                      all_models: Path | None = None,
                      score_by: Sequence[tuple[str, ...]] = (("model",),),
                      outside_span: str = "exclude", tail_periods: int | None = None,
                      forecast_out: Path | None = None,
                      forecast_quantiles: Sequence[float] = DEFAULT_QUANTILES,
                      summary: StoreSummary | None = None, progress: bool = False
                      ) -> DaskBacktest:
    """`run_backtest` on the store's partitions; writes predictions to `out` (the primary
    model, predictions-file format) and `all_models` (every model) as one Parquet file per
    partition, and scores them by each of `score_by`. `progress`: phases on stderr.

    `tail_periods`: also gather what a `Forecaster` holds (see `training.dask.forecast`);
    `forecast_out`: write the last window's forecasts (`Forecaster.predict` rows with
    `forecast_quantiles`) as one Parquet file per partition.
    """
    models = _checked(config)
    freq, nodes = store.freq, store.nodes()
    frame = store.dask_history()
    lap = _Laps(bar(desc="dask backtest", total=None, enabled=progress, unit="phase"))
    summary = summary or summarize_history(frame, nodes)
    lap("summary")
    dates = grid_of(summary, freq)
    cuts = ([pd.Timestamp(c) for c in cutoffs] if cutoffs is not None else rolling_cutoffs(
        dates, horizon=config.horizon, windows=config.windows + config.warmup,
        step=config.step))
    # summary, windows, calibrate, select, assemble; lgbm inputs, one fit per cutoff, lgbm
    lap.shown.total = 5 + (len(cuts) + 2 if "lgbm" in models else 0)
    ctx = _context(models, config, freq, cuts, dates, warmup=len(cuts) - config.windows)
    parts, pw_f, boosters, summary_f = _windows_phase(client, frame, summary, ctx, config,
                                                      nodes, lap)
    calib, tables, groups = calibrate(client, pw_f, ctx)
    lap("calibrate")
    tables_f = client.scatter(tables, broadcast=True)
    keep = _Keep(tail_periods=tail_periods, forecast_out=_prepare(forecast_out),
                 quantiles=tuple(sorted({float(q) for q in forecast_quantiles})))
    if forecast_out is not None:
        keep.tables = {n: quantile_table(c, keep.quantiles, groups) for n, c in calib.items()
                       if not c.empty}
    states = class_states(client, pw_f, tables_f, ctx)
    auto_tables = auto_calibration(client, pw_f, states, ctx, groups, into=calib)
    if "auto" in calib and forecast_out is not None:
        keep.tables["auto"] = quantile_table(calib["auto"], keep.quantiles, groups)
    lap("select")
    results = client.gather(client.map(
        _finish, pw_f, parts, list(range(len(parts))), tables=tables_f, states=states,
        auto_tables=auto_tables, ctx=ctx,
        summary=summary_f, out=_prepare(out), all_models=_prepare(all_models),
        primary=primary_model(models), score_by=list(score_by), outside_span=outside_span,
        keep=keep, pure=False))
    lap("assemble")
    lap.shown.close()
    scores, seconds = _totals(results, lap, score_by)
    return DaskBacktest(scores=scores, cutoffs=cuts, out=out, all_models=all_models,
                        seconds=seconds, lgbm=boosters.get(cuts[-1]), summary=summary,
                        n_rows=sum(r["rows"] for r in results), calibrators=calib,
                        parts=results if tail_periods is not None else [],
                        client_peak_mib=dict(lap.peaks))


def _checked(config: BacktestConfig) -> tuple[str, ...]:
    """The backtest's models; raises ValueError on settings the Dask engine refuses."""
    models = check_models(config.models)
    if config.warmup < 1:
        raise ValueError(f"`warmup` must be >= 1 (quantiles are calibrated on earlier windows);"
                         f" got {config.warmup}.")
    if config.lgbm_refit_every != 1:
        raise ValueError("`lgbm_refit_every` other than 1 is not supported on the Dask engine "
                         "(it fits LightGBM at every cutoff); use the local engine.")
    return models


def _windows_phase(client: Any, frame: Any, summary: StoreSummary, ctx: Context,
                   config: BacktestConfig, nodes: pd.DataFrame | None, lap: _Laps
                   ) -> tuple[list[Any], list[Any], dict[pd.Timestamp, LGBMForecaster], Any]:
    """Phase 0 on the cluster: the partitions (futures), every window's forecasts of each
    (futures), the LightGBM boosters per cutoff, and the scattered summary."""
    reads = frame.to_delayed()
    where = placement(client, len(reads))
    # each partition read where its LightGBM rows will be built (see `_fit_boosters`)
    parts = [client.compute(d, workers=[w], allow_other_workers=True)
             for d, w in zip(reads, where, strict=True)]
    summary_f = client.scatter(summary, broadcast=True)
    boosters: dict[pd.Timestamp, LGBMForecaster] = {}
    ts_f: list[Any] = [None] * len(parts)
    if "lgbm" in ctx.models:
        ts_f, boosters = _fit_boosters(client, parts, where, summary_f, config, nodes,
                                       ctx.freq, ctx.cuts, lap)
    boosters_f = client.scatter(boosters, broadcast=True) if boosters else None
    pw_f = client.map(_partition_windows, parts, ts_f, [boosters_f] * len(parts),
                      summary=summary_f, ctx=ctx, pure=False)
    client.gather(client.map(lambda p: len(p.windows), pw_f, pure=False))
    lap("windows")
    return parts, pw_f, boosters, summary_f


def _totals(results: list[dict[str, Any]], lap: _Laps, score_by: Sequence[tuple[str, ...]]
            ) -> tuple[dict[tuple[str, ...], pd.DataFrame], dict[str, float]]:
    """The metric tables from the partitions' sums, and the seconds per phase and model."""
    seconds = {f"wall/{k}": v for k, v in lap.laps.items()}
    for r in results:
        for name, sec in r["seconds"].items():
            seconds[name] = seconds.get(name, 0.0) + sec
    scored = [r["scores"] for r in results if "scores" in r]
    scores = {by: combine_scores([s[by] for s in scored], by=by) for by in score_by} \
        if scored else {}
    return scores, seconds
