"""The peers of BENCHMARKS.md's "Evaluation protocol", run in the project's rolling-origin harness.

Usage:
    .venv/bin/python benchmarks/peers.py [--dataset walmart|carparts|all] [--peers ...] [--force]

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
from dataclasses import dataclass
from pathlib import Path

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
    outside_span: str


PROTOCOLS = {
    "walmart": Protocol("walmart_store_dept", load_walmart, 8, 4, 8, 52, "zero"),
    "carparts": Protocol("carparts", load_carparts, 6, 3, 6, 12, "exclude"),
}


@dataclass(frozen=True)
class Task:
    """What a peer gets for one cutoff: the training frame and the forecast settings."""

    train: pd.DataFrame  # unique_id (panel row), ds, y
    horizon: int
    season: int
    freq: str


def _statsforecast(model_factory: Callable[[Task], object]) -> Callable[[Task], pd.DataFrame]:
    def run(task: Task) -> pd.DataFrame:
        from statsforecast import StatsForecast

        sf = StatsForecast(models=[model_factory(task)], freq=task.freq, n_jobs=N_JOBS)
        out = sf.forecast(df=task.train, h=task.horizon, level=[LEVEL])
        return out.rename(columns={"model": "mean", f"model-lo-{LEVEL}": "lo",
                                   f"model-hi-{LEVEL}": "hi"})
    return run


def _conformal(task: Task) -> object:
    from statsforecast.utils import ConformalIntervals

    return ConformalIntervals(h=task.horizon, n_windows=2)


def _week(dates: pd.DatetimeIndex) -> np.ndarray:
    return pd.DatetimeIndex(dates).isocalendar().week.to_numpy(dtype=np.int64)


def _lightgbm(task: Task) -> pd.DataFrame:
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
    mf.fit(task.train, prediction_intervals=PredictionIntervals(n_windows=2, h=task.horizon))
    out = mf.predict(task.horizon, level=[LEVEL])
    return out.rename(columns={"model": "mean", f"model-lo-{LEVEL}": "lo",
                               f"model-hi-{LEVEL}": "hi"})


def _peers() -> dict[str, tuple[Callable[[Task], pd.DataFrame], Callable[[Task], int]]]:
    """Peer name -> (runner, fewest training periods a series needs for it)."""
    from statsforecast.models import TSB, AutoETS, CrostonSBA, Naive, SeasonalNaive

    conformal_min = lambda t: 2 * t.horizon + 1  # noqa: E731 (2 windows + 1 training period)
    return {
        "seasonal_naive": (_statsforecast(lambda t: SeasonalNaive(t.season, alias="model")),
                           lambda t: t.season),
        "naive": (_statsforecast(lambda _: Naive(alias="model")), lambda _: 1),
        # AutoETS refuses 'tiny datasets' (n <= parameters + 4) below 7 periods
        "auto_ets": (_statsforecast(lambda t: AutoETS(season_length=t.season, alias="model")),
                     lambda _: 7),
        "croston_sba": (_statsforecast(lambda t: CrostonSBA(
            alias="model", prediction_intervals=_conformal(t))), conformal_min),
        # statsforecast gives TSB no default smoothing; 0.1 / 0.1 as in its docs' examples
        "tsb": (_statsforecast(lambda t: TSB(
            alpha_d=0.1, alpha_p=0.1, alias="model", prediction_intervals=_conformal(t))),
            conformal_min),
        "lgbm": (_lightgbm, conformal_min),
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
        fcst = run(Task(fit_on, task.horizon, task.season, task.freq)) if len(fit_on) else None
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


def _run_peer(name: str, panel: Panel, cuts: list[pd.Timestamp], proto: Protocol,
              folder: Path) -> tuple[pd.DataFrame, float]:
    """All cutoffs of one peer and its wall seconds. Each cutoff is cached on its own in
    `folder`/partial, so a slow peer can finish over several runs (seconds are summed)."""
    run, min_obs = _peers()[name]
    partial = folder / "partial"
    partial.mkdir(exist_ok=True)
    frames, seconds = [], 0.0
    for cutoff in cuts:
        path = partial / f"{name}_{cutoff:%Y%m%d}.parquet"
        if not path.exists():
            start = time.perf_counter()
            cut = panel.dates.get_loc(cutoff)
            train = _training_frame(panel, cut, to_cutoff=proto.outside_span == "zero")
            task = Task(train, proto.horizon, proto.season, panel.freq)
            grid = _one_cutoff(run, min_obs, task, panel, cut)
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


def _fill_report(preds: pd.DataFrame) -> str:
    rows = preds["filled"]
    pairs = preds.loc[rows, [NODE, ITEM, "cutoff"]].drop_duplicates()
    return f"filled {len(pairs)} series x cutoff ({rows.sum()} rows)"


def _run_dataset(dataset: str, peers: list[str], *, force: bool) -> pd.DataFrame:
    proto = PROTOCOLS[dataset]
    data = proto.load(DATA / proto.folder)
    history = data.sell_through[[DATE, NODE, ITEM, UNITS]]
    panel = build_panel(history, freq=data.freq)
    cuts = cutoffs(panel.dates, horizon=proto.horizon, windows=proto.windows, step=proto.step)
    folder = OUT / dataset
    folder.mkdir(parents=True, exist_ok=True)
    timings_path = folder / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    print(f"{dataset}: {panel.n_series} series, cutoffs {[c.date() for c in cuts]}", flush=True)
    tables = []
    for name in peers:
        path = folder / f"{name}.parquet"
        if force or not path.exists():
            if force:
                for stale in (folder / "partial").glob(f"{name}_*.parquet"):
                    stale.unlink()
            preds, seconds = _run_peer(name, panel, cuts, proto, folder)
            timings[name] = round(seconds, 1)
            preds.to_parquet(path, index=False)
            timings_path.write_text(json.dumps(timings, indent=2, sort_keys=True))
        preds = pd.read_parquet(path)
        print(f"  {name}: {timings.get(name, float('nan'))} s, {_fill_report(preds)}", flush=True)
        tables.append(preds.assign(model=name))
    table = evaluate(pd.concat(tables, ignore_index=True), history, freq=data.freq,
                     by=["model"], outside_span=proto.outside_span)
    table["seconds"] = table["model"].map(timings)
    return table.sort_values("wrmsse").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*PROTOCOLS, "all"], default="all")
    parser.add_argument("--peers", nargs="+", choices=list(_peers()), default=list(_peers()))
    parser.add_argument("--force", action="store_true", help="recompute cached predictions")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is absent; the peers need the shared datasets.")
        return
    datasets = list(PROTOCOLS) if args.dataset == "all" else [args.dataset]
    for dataset in datasets:
        table = _run_dataset(dataset, args.peers, force=args.force)
        print(f"\n{dataset} (h={PROTOCOLS[dataset].horizon})\n{format_table(table)}\n",
              flush=True)


if __name__ == "__main__":
    main()
