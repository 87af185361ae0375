"""Issue 21 feasibility: would a stronger expectation than the monitor's find more drops?

    .venv/bin/python benchmarks/monitor_expectation.py [--forecaster]

On the walmart suite of benchmarks/monitor.py (clean and injected copies), the monitor's
drop scorer (`models.monitor.demand.drop_signal`) is fed by other causal expectations of
log1p(units), each only from weeks 66 on (they need a year of lags and a first fit):
- `lgbm k=K`: a global LightGBM (L1) one-step model refitted every 13 weeks on targets up
  to the refit week; features of week t from weeks <= t-K only (the 12-week log level,
  the 4 weeks from t-K relative to it, last year's weeks 51-53 back and level,
  week of year, Walmart's holiday flag of t and t+1, department);
- `forecaster MODEL` (with --forecaster): the production backtest
  (`training.engine.run_backtest`, refit every 13 weeks, horizon 13, step 13): the served
  model's situation, a forecast from the last refit up to 13 weeks ahead;
- `monitor, errors from week 66`: the monitor's own expectation with the same handicap.
For each: median per-series mean |error| over the monitor's, median lag-1 autocorrelation of
errors (last 40 weeks, clean copy), and the drop recall (35% / 60%) at the threshold that
gives 0.5 / 0.6 / 1.0 false drop alerts per 1,000 series-periods on the clean copy's last
40 weeks (an "oracle" threshold, an upper bound for ranking; the scan is from the top so a
threshold of 0, where every week is one long run, is never taken).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import time  # noqa: E402

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.monitor import PLAN, WALMART, WINDOW, load_walmart  # noqa: E402
from features.config import BacktestConfig  # noqa: E402
from features.synthetic.anomalies import inject_anomalies  # noqa: E402
from models.monitor.config import MonitorConfig  # noqa: E402
from models.monitor.demand import Expectation, demand_expectation, drop_signal  # noqa: E402
from models.monitor.panel import Panel, build_panel, trailing_mean  # noqa: E402

CUTS = (65, 78, 91, 104, 117, 130)
FARS = (0.5, 0.6, 1.0)
CFG = MonitorConfig()


def _lagged(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    out[:, k:] = a[:, :-k]
    return out


def lgbm_expectation(panel: Panel, k: int, holiday: np.ndarray) -> np.ndarray:
    """Log1p expectation from a global LightGBM refitted every 13 weeks (features <= t-k)."""
    y = np.where(panel.present, np.log1p(np.maximum(panel.units, 0.0)), np.nan)
    level = trailing_mean(y, 12, lag=k, min_count=6)
    shape = y.shape
    feats = [level, *[_lagged(y, j) - level for j in range(k, k + 4)],
             *[_lagged(y, j) - level for j in (51, 52, 53)],
             trailing_mean(y, 12, lag=52, min_count=6) - level,
             _lagged(y, 52) - trailing_mean(y, 12, lag=53, min_count=6),
             np.broadcast_to(panel.dates.isocalendar().week.to_numpy(float), shape),
             np.broadcast_to(holiday, shape), np.broadcast_to(np.r_[holiday[1:], 0.0], shape),
             np.broadcast_to(pd.factorize(panel.keys["sku"])[0][:, None].astype(float), shape)]
    x = np.stack([np.asarray(f, float) for f in feats], axis=2)
    target = y - level
    out = np.full(shape, np.nan)
    for cut in CUTS:
        train = np.zeros(shape, bool)
        train[:, 53:cut + 1] = True
        train &= ~np.isnan(target)
        model = lgb.LGBMRegressor(n_estimators=300, learning_rate=0.05, min_child_samples=50,
                                  subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                                  objective="l1", random_state=0, verbose=-1, n_jobs=1)
        model.fit(x[train], target[train], categorical_feature=[len(feats) - 1])
        end = min(cut + 14, shape[1])
        pred = np.asarray(model.predict(x[:, cut + 1:end].reshape(-1, len(feats))))
        pred = pred.reshape(shape[0], -1)
        out[:, cut + 1:end] = level[:, cut + 1:end] + pred
    return out


def forecaster_expectations(frame: pd.DataFrame, nodes: pd.DataFrame, panel: Panel
                            ) -> dict[str, np.ndarray]:
    """Log1p means of the production backtest (refit every 13, horizon 13) per model."""
    from training.engine.backtest import run_backtest
    config = BacktestConfig(horizon=13, step=13, windows=6, warmup=1, lgbm_refit_every=13)
    rows = run_backtest(frame, freq="W-FRI", config=config, nodes=nodes).predictions
    keys = pd.MultiIndex.from_frame(panel.keys[["node_id", "sku"]])
    out = {}
    for name in ("auto", "lgbm", "ets"):
        wide = rows[rows["model"] == name].pivot_table(index=["node_id", "sku"], columns="date",
                                                       values="mean")
        wide = wide.reindex(keys).reindex(columns=panel.dates).to_numpy(float)
        out[f"forecaster {name}"] = np.log1p(np.maximum(wide, 0.0))
    return out


def as_expectation(panel: Panel, expected: np.ndarray, base: Expectation) -> Expectation:
    """The monitor's scaled errors around another expectation (same scale rule and floors)."""
    logged = np.where(base.clean, np.log1p(np.maximum(panel.units, 0.0)), np.nan)
    error = logged - expected
    mean_abs = trailing_mean(np.abs(error), CFG.scale_window, lag=1, min_count=CFG.min_history)
    poisson = 0.8 / np.sqrt(1.0 + np.expm1(np.maximum(expected, 0.0)))  # as demand.py
    scale = np.maximum(np.fmax(mean_abs, poisson), 0.05)
    return Expectation(clean=base.clean & ~np.isnan(expected),
                       expected_units=np.expm1(np.maximum(expected, 0.0)), scale=scale,
                       z=error / scale)


def _episodes(score: np.ndarray, threshold: float, first: int) -> int:
    flags = np.nan_to_num(score, nan=-np.inf) >= threshold
    before = np.concatenate([np.zeros((flags.shape[0], 1), bool), flags[:, :-1]], axis=1)
    return int((flags & ~before)[:, first:].sum())


def drop_recall(clean: np.ndarray, injected: np.ndarray, rows: list[tuple[int, int, float]],
                first: int) -> str:
    """Oracle threshold per false-drop rate (scanned from the top) and the recall there."""
    grid = np.arange(12.0, 0.49, -0.05)
    count = np.array([_episodes(clean, g, first) for g in grid])
    cells = []
    for far in FARS:
        over = np.flatnonzero(count > far * clean.shape[0] * WINDOW / 1000)
        thr = grid[over[0] - 1] if over.size else grid[-1]
        found: dict[float, list[bool]] = {}
        for row, t0, size in rows:
            hit = np.nan_to_num(injected[row, t0:t0 + 3], nan=-np.inf) >= thr
            found.setdefault(size, []).append(bool(hit.any()))
        cells.append(f"{thr:.2f}: " + " / ".join(f"{np.mean(v):.2f}" for _, v in sorted(
            found.items())))
    return " | ".join(cells)


def error_stats(exp: Expectation, base: Expectation, first: int) -> str:
    """Median per-series MAE over the monitor's and median lag-1 autocorrelation of errors."""
    e, b = (exp.z * exp.scale)[:, first:], (base.z * base.scale)[:, first:]
    both = ~np.isnan(e) & ~np.isnan(b)
    ratio = np.nanmedian(np.nanmean(np.where(both, np.abs(e), np.nan), axis=1)
                         / np.nanmean(np.where(both, np.abs(b), np.nan), axis=1))
    centred = e - np.nanmean(e, axis=1, keepdims=True)
    ac = np.nanmedian(np.nansum(centred[:, 1:] * centred[:, :-1], axis=1)
                      / np.nansum(centred**2, axis=1))
    return f"{ratio:.3f} | {ac:.2f}"


def main() -> None:
    """Print one markdown row per expectation."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forecaster", action="store_true", help="also the production backtest")
    args = parser.parse_args()
    clean, nodes = load_walmart()
    injected, labels = inject_anomalies(clean, seed=21, plan=PLAN)
    pc, pi = build_panel(clean), build_panel(injected)
    ec, ei = demand_expectation(pc, CFG), demand_expectation(pi, CFG)
    first = len(pc.dates) - WINDOW
    index = {(n, s): i for i, (n, s) in enumerate(zip(pi.keys["node_id"], pi.keys["sku"],
                                                      strict=True))}
    drops = labels[labels["kind"] == "demand_drop"]
    rows = [(index[(d.node_id, d.sku)], int(pi.dates.get_loc(d.onset)), float(d.magnitude))
            for d in drops.itertuples()]
    raw = pd.read_csv(WALMART / "train.csv.zip", usecols=["Date", "IsHoliday"],
                      parse_dates=["Date"]).drop_duplicates("Date").set_index("Date")
    holiday = raw["IsHoliday"].reindex(pc.dates).fillna(False).to_numpy(float)
    base_c, base_i = np.log1p(ec.expected_units), np.log1p(ei.expected_units)
    late = np.arange(len(pc.dates)) >= CUTS[0] + 1
    variants = {"monitor, errors from week 66": (np.where(late, base_c, np.nan),
                                                 np.where(late, base_i, np.nan))}
    for k in (1, 2, 4):
        start = time.perf_counter()
        variants[f"lgbm k={k}"] = (lgbm_expectation(pc, k, holiday),
                                   lgbm_expectation(pi, k, holiday))
        print(f"lgbm k={k}: {time.perf_counter() - start:.0f} s", flush=True)
    if args.forecaster:
        start = time.perf_counter()
        fc = forecaster_expectations(clean, nodes, pc)
        fi = forecaster_expectations(injected, nodes, pi)
        variants.update({name: (fc[name], fi[name]) for name in fc})
        print(f"forecaster: {time.perf_counter() - start:.0f} s", flush=True)
    print("| expectation | MAE / monitor's | lag-1 ac | drops 35% / 60% at oracle threshold "
          "for " + " | ".join(f"{f:g}" for f in FARS) + " false per 1,000 |")
    kept = drop_recall(drop_signal(pc, ec, CFG).score, drop_signal(pi, ei, CFG).score, rows,
                       first)
    print(f"| monitor (kept) | 1.000 | {error_stats(ec, ec, first).split(' | ')[1]} | {kept} |")
    for name, (xc, xi) in variants.items():
        c, i = as_expectation(pc, xc, ec), as_expectation(pi, xi, ei)
        found = drop_recall(drop_signal(pc, c, CFG).score, drop_signal(pi, i, CFG).score, rows,
                            first)
        print(f"| {name} | {error_stats(c, ec, first)} | {found} |", flush=True)


if __name__ == "__main__":
    main()
