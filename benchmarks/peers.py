"""The peers of BENCHMARKS.md's "Evaluation protocol", run in the project's rolling-origin harness.

Usage:
    .venv/bin/python benchmarks/peers.py [--dataset walmart|carparts|all] [--peers ...] [--force]

Peers and how their 80% interval (q0.1, q0.9) is made: seasonal naive, naive, AutoETS and
AutoTheta use statsforecast's own model intervals; Croston SBA, TSB and both LightGBMs
(mlforecast) use conformal intervals from 2 windows of h periods (statsforecast
ConformalIntervals, mlforecast PredictionIntervals). q0.5 is the mean for every peer.
`lgbm_exog` is `lgbm` given the data's exogenous columns a planner knows ahead, future values
through `X_df` (walmart: the holiday flag and MarkDown1-5 of features.csv, NA = no markdown
= 0; carparts has none, so the peer is skipped there). `median_ensemble` is the per-series,
per-step median of the means and of each quantile of AutoETS, AutoTheta, Croston SBA,
LightGBM and (where the data has exogenous columns) LightGBM with them; its seconds are the
sum of its members'.

Each peer is fitted once per cutoff on data up to and including the cutoff and forecasts the
next h periods for every series. Predictions go to benchmarks/out/peers/<dataset>/<peer>.parquet
in the predictions-file format (plus a `filled` flag), wall seconds to timings.json next to them;
an existing file is reused unless --force. Each cutoff is also cached while a peer runs, so
a run that is stopped (e.g. by a time limit) resumes at the next cutoff; the peer's seconds
are the sum over its cutoffs. Then one metric table per dataset is printed.

Cold start: a series the peer cannot answer for at a cutoff (too few periods for the model
or its conformal intervals, not started yet, or ended before the cutoff) gets its last
observed value, or 0 if it has none, for mean and every quantile; these rows are counted.
The library cross-validation helpers are not used: they place each series' windows at that
series' own last date, which differs from the protocol's grid cutoffs for series that end
early (carparts) or are gap-trimmed, so cutoffs are looped here instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and benchmarks/features.py
# would shadow the `features` package: put the project root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.contract.datasets import ContractData, load_carparts, load_walmart  # noqa: E402
from features.engineering.history import Panel, build_panel  # noqa: E402
from features.schema import DATE, ITEM, NODE, UNITS  # noqa: E402
from training.engine.metrics import evaluate, format_table  # noqa: E402
from training.engine.windows import cutoffs  # noqa: E402

DATA = ROOT.parent / "shared" / "data"  # ../shared/data from the project root
OUT = ROOT / "benchmarks" / "out" / "peers"
LEVEL = 80
N_JOBS = 2
PREDICTION_COLUMNS = [NODE, ITEM, "cutoff", DATE, "mean", "q0.1", "q0.5", "q0.9", "filled"]
VALUES = ["mean", "q0.1", "q0.5", "q0.9"]
ENSEMBLE = "median_ensemble"
ENSEMBLE_MEMBERS = ("auto_ets", "auto_theta", "croston_sba", "lgbm", "lgbm_exog")
NEEDS_EXOGENOUS = ("lgbm_exog",)
MARKDOWNS = [f"MarkDown{i}" for i in range(1, 6)]


def _walmart_exogenous(path: Path) -> pd.DataFrame:
    """Store x week columns a planner knows ahead (features.csv): the holiday flag and the
    five promotional markdowns (NA = no markdown = 0). Temperature, fuel price, CPI and
    unemployment are left out: nobody knows their future values."""
    raw = pd.read_csv(path / "features.csv", parse_dates=["Date"], na_values="NA")
    out = pd.DataFrame({NODE: "S" + raw["Store"].astype(str), DATE: raw["Date"],
                        "holiday": raw["IsHoliday"].astype(bool).astype(np.float64)})
    for col in MARKDOWNS:
        out[col.lower()] = raw[col].fillna(0.0).astype(np.float64)
    return out


@dataclass(frozen=True)
class Protocol:
    """One dataset's row of the evaluation protocol, plus how its missing rows are read."""

    folder: str
    load: Callable[[Path], ContractData]
    horizon: int
    windows: int
    step: int
    season: int
    # walmart: a missing week is a week without sales, also after a series' last row;
    # carparts: NA = the series ended, so nothing after its last row is filled or scored
    outside_span: Literal["exclude", "zero"]
    # dynamic columns known ahead, keyed by node_id and/or sku and date (None: the data has none)
    exogenous: Callable[[Path], pd.DataFrame] | None = None


PROTOCOLS = {
    "walmart": Protocol("walmart_store_dept", load_walmart, 8, 4, 8, 52, "zero",
                        _walmart_exogenous),
    "carparts": Protocol("carparts", load_carparts, 6, 3, 6, 12, "exclude"),
}


@dataclass(frozen=True)
class Task:
    """What a peer gets for one cutoff: the training frame and the forecast settings."""

    train: pd.DataFrame  # unique_id (panel row), ds, y
    horizon: int
    season: int
    freq: str
    # unique_id, ds and the dynamic columns for every series and period (None: no such columns)
    exogenous: pd.DataFrame | None = field(default=None, repr=False)


def _statsforecast(model_factory: Callable[[Task], object]) -> Callable[[Task], pd.DataFrame]:
    def run(task: Task) -> pd.DataFrame:
        from statsforecast import StatsForecast

        sf = StatsForecast(models=[model_factory(task)], freq=task.freq, n_jobs=N_JOBS)
        out = sf.forecast(df=task.train, h=task.horizon, level=[LEVEL])
        return out.rename(columns={"model": "mean", f"model-lo-{LEVEL}": "lo",
                                   f"model-hi-{LEVEL}": "hi"})
    return run


def _conformal(task: Task) -> Any:  # statsforecast's ConformalIntervals (bench extra)
    from statsforecast.utils import ConformalIntervals

    return ConformalIntervals(h=task.horizon, n_windows=2)


def _week(dates: pd.DatetimeIndex) -> np.ndarray:
    return pd.DatetimeIndex(dates).isocalendar().week.to_numpy(dtype=np.int64)


def _future_exogenous(train: pd.DataFrame, exogenous: pd.DataFrame, h: int) -> pd.DataFrame:
    """The dynamic columns of the h periods after each training series' last period."""
    last = train.groupby("unique_id")["ds"].max()
    rows = exogenous[exogenous["unique_id"].isin(last.index)]
    rows = rows[rows["ds"] > rows["unique_id"].map(last)]
    return rows.groupby("unique_id").head(h).reset_index(drop=True)


def _lightgbm(task: Task, *, exogenous: bool = False) -> pd.DataFrame:
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.utils import PredictionIntervals

    model = lgb.LGBMRegressor(objective="tweedie", num_threads=N_JOBS, verbosity=-1,
                              random_state=0)
    monthly = task.freq.upper().startswith("M")
    mf = MLForecast(models={"model": model}, freq=task.freq,
                    lags=[1, 2, 3, 4, task.season],
                    lag_transforms={1: [RollingMean(window_size=4), RollingMean(window_size=13)]},
                    date_features=["month"] if monthly else [_week, "month"])
    train, future = task.train, None
    if exogenous:
        if task.exogenous is None:
            raise ValueError("peer lgbm_exog needs the data's exogenous columns; this dataset "
                             "has none (Protocol.exogenous is None): run `lgbm` instead.")
        train = train.merge(task.exogenous, on=["unique_id", "ds"], how="left").fillna(0.0)
        future = _future_exogenous(task.train, task.exogenous, task.horizon)
    mf.fit(train, static_features=[],
           prediction_intervals=PredictionIntervals(n_windows=2, h=task.horizon))
    out = mf.predict(task.horizon, level=[LEVEL], X_df=future)
    return out.rename(columns={"model": "mean", f"model-lo-{LEVEL}": "lo",
                               f"model-hi-{LEVEL}": "hi"})


def _peers() -> dict[str, tuple[Callable[[Task], pd.DataFrame], Callable[[Task], int]]]:
    """Peer name -> (runner, fewest training periods a series needs for it)."""
    from statsforecast.models import TSB, AutoETS, AutoTheta, CrostonSBA, Naive, SeasonalNaive

    conformal_min = lambda t: 2 * t.horizon + 1  # noqa: E731 (2 windows + 1 training period)
    return {
        "seasonal_naive": (_statsforecast(lambda t: SeasonalNaive(t.season, alias="model")),
                           lambda t: t.season),
        "naive": (_statsforecast(lambda _: Naive(alias="model")), lambda _: 1),
        # AutoETS refuses 'tiny datasets' (n <= parameters + 4) below 7 periods
        "auto_ets": (_statsforecast(lambda t: AutoETS(season_length=t.season, alias="model")),
                     lambda _: 7),
        # AutoTheta refuses 'tiny datasets' below 4 periods
        "auto_theta": (_statsforecast(lambda t: AutoTheta(season_length=t.season,
                                                          alias="model")), lambda _: 4),
        "croston_sba": (_statsforecast(lambda t: CrostonSBA(
            alias="model", prediction_intervals=_conformal(t))), conformal_min),
        # statsforecast gives TSB no default smoothing; 0.1 / 0.1 as in its docs' examples
        "tsb": (_statsforecast(lambda t: TSB(
            alpha_d=0.1, alpha_p=0.1, alias="model", prediction_intervals=_conformal(t))),
            conformal_min),
        "lgbm": (_lightgbm, conformal_min),
        "lgbm_exog": (lambda t: _lightgbm(t, exogenous=True), conformal_min),
    }


def _training_frame(panel: Panel, cut: int, *, to_cutoff: bool) -> pd.DataFrame:
    """Long frame of every series' span up to the cutoff; with `to_cutoff` the span of a
    series that stopped reporting is carried to the cutoff as zero-sales periods."""
    t = np.arange(cut + 1)
    last = np.full(panel.n_series, cut) if to_cutoff else panel.last
    keep = (t >= panel.first[:, None]) & (t <= last[:, None])
    s, t = np.nonzero(keep)
    units = np.nan_to_num(panel.units[s, t])
    return pd.DataFrame({"unique_id": s, "ds": panel.dates[t], "y": units})


def _one_cutoff(run: Callable[[Task], pd.DataFrame], min_obs: Callable[[Task], int],
                task: Task, panel: Panel, cut: int) -> pd.DataFrame:
    """Forecasts of one peer at one cutoff on the full series x target-date grid."""
    train = task.train
    counts = train.groupby("unique_id")["y"].transform("size")
    fit_on = train[counts >= min_obs(task)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fcst = (run(Task(fit_on, task.horizon, task.season, task.freq, task.exogenous))
                if len(fit_on) else None)
    dates = panel.dates[cut + 1: cut + 1 + task.horizon]
    grid = pd.DataFrame({"unique_id": np.repeat(np.arange(panel.n_series), len(dates)),
                         "ds": np.tile(dates, panel.n_series)})
    if fcst is not None:
        fcst = fcst.assign(unique_id=fcst["unique_id"].astype(np.int64))
        grid = grid.merge(fcst[["unique_id", "ds", "mean", "lo", "hi"]], how="left")
    else:
        grid[["mean", "lo", "hi"]] = np.nan
    last_value = train.groupby("unique_id")["y"].last()
    fill = grid["unique_id"].map(last_value).fillna(0.0)
    grid["filled"] = grid[["mean", "lo", "hi"]].isna().any(axis=1)
    for col in ("mean", "lo", "hi"):
        grid[col] = grid[col].where(~grid["filled"], fill)
    return grid


@dataclass
class _Run:
    """One dataset's peer run: the panel, cutoffs, cache folder and timings."""

    panel: Panel
    cuts: list[pd.Timestamp]
    proto: Protocol
    folder: Path
    exogenous: pd.DataFrame | None
    force: bool
    done: set[str] = field(default_factory=set)  # recomputed in this run (--force once)

    def timings(self) -> dict[str, float]:
        path = self.folder / "timings.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def record(self, name: str, seconds: float) -> None:
        """Store a peer's seconds (re-read first: another run may have added peers)."""
        timings = self.timings() | {name: round(seconds, 1)}
        (self.folder / "timings.json").write_text(json.dumps(timings, indent=2, sort_keys=True))


def _run_peer(name: str, run: _Run) -> tuple[pd.DataFrame, float]:
    """All cutoffs of one peer and its wall seconds. Each cutoff is cached on its own in
    `folder`/partial, so a slow peer can finish over several runs (seconds are summed)."""
    fit, min_obs = _peers()[name]
    panel, proto = run.panel, run.proto
    partial = run.folder / "partial"
    partial.mkdir(exist_ok=True)
    frames, seconds = [], 0.0
    for cutoff in run.cuts:
        path = partial / f"{name}_{cutoff:%Y%m%d}.parquet"
        if not path.exists():
            start = time.perf_counter()
            cut = panel.dates.get_loc(cutoff)
            train = _training_frame(panel, cut, to_cutoff=proto.outside_span == "zero")
            task = Task(train, proto.horizon, proto.season, panel.freq, run.exogenous)
            grid = _one_cutoff(fit, min_obs, task, panel, cut)
            grid.assign(cutoff=cutoff, seconds=time.perf_counter() - start).to_parquet(path)
        frames.append(pd.read_parquet(path))
        seconds += float(frames[-1]["seconds"].iloc[0])
    out = pd.concat(frames, ignore_index=True)
    keys = panel.keys.iloc[out["unique_id"].to_numpy()].reset_index(drop=True)
    mean = out["mean"].clip(lower=0.0)
    preds = pd.DataFrame({
        NODE: keys[NODE], ITEM: keys[ITEM], "cutoff": out["cutoff"], DATE: out["ds"],
        "mean": mean, "q0.1": out["lo"].clip(lower=0.0), "q0.5": mean,
        "q0.9": out["hi"].clip(lower=0.0), "filled": out["filled"],
    })[PREDICTION_COLUMNS]
    for path in partial.glob(f"{name}_*.parquet"):
        path.unlink()
    return preds, seconds


def _members(run: _Run) -> list[str]:
    """The ensemble's members on this dataset (LightGBM with exogenous columns where any)."""
    return [m for m in ENSEMBLE_MEMBERS if run.exogenous is not None or m not in NEEDS_EXOGENOUS]


def _median_ensemble(run: _Run) -> tuple[pd.DataFrame, float]:
    """Per series, cutoff and date: the median of the members' means and of each quantile;
    `filled` where any member was filled. Seconds: the sum of the members'."""
    members = _members(run)
    both = pd.concat([_predictions(m, run) for m in members], ignore_index=True)
    keys = [NODE, ITEM, "cutoff", DATE]
    out = both.groupby(keys, sort=False).agg(
        **{v: (v, "median") for v in VALUES}, filled=("filled", "any")).reset_index()
    timings = run.timings()
    return out[PREDICTION_COLUMNS], sum(timings[m] for m in members)


def _predictions(name: str, run: _Run) -> pd.DataFrame:
    """A peer's predictions from benchmarks/out/peers, computed first if not cached (or
    --force, once per run)."""
    path = run.folder / f"{name}.parquet"
    if (run.force and name not in run.done) or not path.exists():
        if run.force:
            for stale in (run.folder / "partial").glob(f"{name}_*.parquet"):
                stale.unlink()
        preds, seconds = _median_ensemble(run) if name == ENSEMBLE else _run_peer(name, run)
        preds.to_parquet(path, index=False)
        run.record(name, seconds)
        run.done.add(name)
    return pd.read_parquet(path)


def _exogenous_frame(proto: Protocol, panel: Panel) -> pd.DataFrame | None:
    """unique_id, ds and the protocol's dynamic columns for every series and period (0 where
    the source has no value)."""
    if proto.exogenous is None:
        return None
    raw = proto.exogenous(DATA / proto.folder)
    on = [k for k in (NODE, ITEM) if k in raw]
    columns = [c for c in raw if c not in (*on, DATE)]
    grid = panel.keys[[NODE, ITEM]].assign(unique_id=np.arange(panel.n_series)).merge(
        pd.DataFrame({DATE: panel.dates}), how="cross")
    out = grid.merge(raw, on=[*on, DATE], how="left")
    out[columns] = out[columns].fillna(0.0)
    out = out.rename(columns={DATE: "ds"})[["unique_id", "ds", *columns]]
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def peer_names() -> list[str]:
    """Every peer this file runs, the median ensemble last."""
    return [*_peers(), ENSEMBLE]


def _fill_report(preds: pd.DataFrame) -> str:
    rows = preds["filled"]
    pairs = preds.loc[rows, [NODE, ITEM, "cutoff"]].drop_duplicates()
    return f"filled {len(pairs)} series x cutoff ({rows.sum()} rows)"


def run_dataset(dataset: str, peers: list[str], *, force: bool) -> pd.DataFrame:
    """One dataset's peer forecasts, scored (cached under benchmarks/out unless `force`)."""
    proto = PROTOCOLS[dataset]
    data = proto.load(DATA / proto.folder)
    history = data.sell_through[[DATE, NODE, ITEM, UNITS]]
    panel = build_panel(history, freq=data.freq)
    cuts = cutoffs(panel.dates, horizon=proto.horizon, windows=proto.windows, step=proto.step)
    folder = OUT / dataset
    folder.mkdir(parents=True, exist_ok=True)
    run = _Run(panel, cuts, proto, folder, _exogenous_frame(proto, panel), force)
    print(f"{dataset}: {panel.n_series} series, cutoffs {[c.date() for c in cuts]}", flush=True)
    tables = []
    for name in peers:
        if run.exogenous is None and name in NEEDS_EXOGENOUS:
            print(f"  {name}: skipped, {dataset} has no exogenous columns", flush=True)
            continue
        preds = _predictions(name, run)
        extra = f" (members: {', '.join(_members(run))})" if name == ENSEMBLE else ""
        print(f"  {name}: {run.timings().get(name, float('nan'))} s, {_fill_report(preds)}"
              f"{extra}", flush=True)
        tables.append(preds.assign(model=name))
    table = evaluate(pd.concat(tables, ignore_index=True), history, freq=data.freq,
                     by=["model"], outside_span=proto.outside_span)
    table["seconds"] = table["model"].map(run.timings())
    return table.sort_values("wrmsse").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*PROTOCOLS, "all"], default="all")
    parser.add_argument("--peers", nargs="+", choices=peer_names(), default=peer_names())
    parser.add_argument("--force", action="store_true", help="recompute cached predictions")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is absent; the peers need the shared datasets.")
        return
    datasets = list(PROTOCOLS) if args.dataset == "all" else [args.dataset]
    for dataset in datasets:
        table = run_dataset(dataset, args.peers, force=args.force)
        print(f"\n{dataset} (h={PROTOCOLS[dataset].horizon})\n{format_table(table)}\n",
              flush=True)


if __name__ == "__main__":
    main()
