"""ETS auto-selection at scale: channelcast's batched `fit_ets` vs statsforecast and statsmodels.

Usage:
    .venv/bin/python benchmarks/ets_speed.py [--sf-sample 200] [--sm-sample 30] [--no-walmart]

On the synthetic weekly channel (100 nodes x 300 skus x 156 weeks = 30,000 series, m = 52)
and, if present, the Walmart store x department panel, it times:
- ours on every series (wall and CPU seconds; the CPU share shows how busy the machine was),
- statsforecast `AutoETS(season_length=52)` and statsmodels `ETSModel` (every additive
  form our rules admit, best AICc kept) on random samples, extrapolated to all series,
and compares AICc: ours vs statsmodels for the same form (statsmodels counts m seasonal
initial states, we count m - 1, so ours is recomputed with k + 1 for seasonal forms), and
ours vs statsforecast's chosen model (statsforecast counts parameters like us but drops the
likelihood's constant, which is added back; multiplicative-error choices are included, as R's
ets compares them by AICc too, and also reported apart). statsforecast and statsmodels get
each series from its first to its last observation (they take no NaN); the panels fill
missing weeks inside a span with 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `features` package: put the project root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from features.periods import weekly_freq  # noqa: E402
from models.ets import ETSFit, aicc, fit_ets, parse_forms  # noqa: E402

SEASON = 52
CHANNEL = ROOT / "benchmarks" / "out" / "channel_100x300x156" / "sell_through.parquet"
WALMART = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "walmart_store_dept"
TOL = 0.5  # AICc points (or 0.1 %, whichever is larger)


def _synthetic_panel() -> tuple[np.ndarray, np.ndarray]:
    """(units, censored) of the 30,000-series channel (cached parquet if benchmarks made it)."""
    import pandas as pd

    from features.engineering.history import build_panel

    if CHANNEL.exists():
        history = pd.read_parquet(CHANNEL)
    else:
        from features.synthetic import generate_channel_data

        history = generate_channel_data(nodes=100, skus=300, periods=156, freq="W",
                                        seed=1).sell_through
    freq = weekly_freq(history['date'].iloc[0])
    panel = build_panel(history, freq=freq)
    return panel.units, panel.censored


def _walmart_panel() -> np.ndarray | None:
    if not WALMART.exists():
        return None
    from features.contract.datasets import load_walmart
    from features.engineering.history import build_panel

    data = load_walmart(WALMART)
    return build_panel(data.sell_through, freq=data.freq).units / 1000.0


def _span(row: np.ndarray) -> np.ndarray:
    """The row from its first to its last observation."""
    seen = np.flatnonzero(~np.isnan(row))
    return row[seen[0]:seen[-1] + 1]


def _time_ours(y: np.ndarray) -> tuple[ETSFit, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_ets(y, season=SEASON)
    return fit, time.perf_counter() - wall, time.process_time() - cpu


def _time_statsforecast(rows: list[np.ndarray]) -> tuple[float, np.ndarray, list[str]]:
    from statsforecast.models import AutoETS

    AutoETS(season_length=SEASON).fit(rows[0])  # warm-up
    scores, names = [], []
    start = time.perf_counter()
    for row in rows:
        model = AutoETS(season_length=SEASON).fit(row).model_
        scores.append(model["aicc"])
        names.append(model["components"])
    seconds = time.perf_counter() - start
    # statsforecast's (and R's) log-likelihood drops the constant -n/2 (log(2 pi / n) + 1).
    n = np.array([len(row) for row in rows], dtype=np.float64)
    return seconds, np.array(scores) + n * (np.log(2 * np.pi / n) + 1), names


def _statsmodels_aicc(row: np.ndarray, form: str) -> float:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = form.endswith("A")
    model = ETSModel(row, error="add", trend="add" if form[1] == "A" else None,
                     damped_trend="d" in form, seasonal="add" if seasonal else None,
                     seasonal_periods=SEASON if seasonal else None)
    return float(model.fit(disp=False).aicc)


def _time_statsmodels(rows: list[np.ndarray], chosen: list[str]) -> tuple[float, np.ndarray]:
    """Seconds to fit every admissible form of every row; AICc of the form we chose."""
    same_form = []
    start = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")  # single-threaded BLAS: several times faster here
        for row, ours in zip(rows, chosen, strict=True):
            fits = {f.name: _statsmodels_aicc(row, f.name) for f in parse_forms(None, SEASON)
                    if len(row) >= f.min_obs(SEASON) or f.name == ours}
            same_form.append(fits[ours])
    return time.perf_counter() - start, np.array(same_form)


def _statsmodels_convention(fit: ETSFit, rows: np.ndarray) -> np.ndarray:
    """Our AICc with statsmodels' count of m (not m - 1) seasonal initial states."""
    k = [parse_forms([str(f)], SEASON)[0] for f in fit.form[rows]]
    n_params = [f.n_params(SEASON) + f.seasonal for f in k]
    return aicc(fit.loglik[rows], fit.nobs[rows], n_params)


def _bench(name: str, y: np.ndarray, args: argparse.Namespace) -> list[list[str]]:
    n = len(y)
    fit, wall, cpu = _time_ours(y)
    print(f"[{name}] ours: {wall:.1f} s wall, {cpu:.1f} s CPU; forms "
          f"{dict(zip(*np.unique(fit.form, return_counts=True), strict=True))}", flush=True)
    rng = np.random.default_rng(0)
    eligible = np.flatnonzero(fit.nobs >= 10)
    table = [[name, "ours fit_ets (all series)", f"{n}", f"{wall:.1f}", f"{1e3 * wall / n:.2f}",
              "1", f"measured ({cpu:.0f} s CPU)"]]
    sf_rows = rng.choice(eligible, min(args.sf_sample, eligible.size), replace=False)
    sf_sec, sf_aicc, sf_names = _time_statsforecast([_span(y[i]) for i in sf_rows])
    table.append(_row(name, "statsforecast AutoETS", n, sf_sec, len(sf_rows), wall))
    additive = np.array([c.startswith("A") for c in sf_names])
    diff_sf = fit.aicc[sf_rows] - sf_aicc
    sm_rows = rng.choice(eligible, min(args.sm_sample, eligible.size), replace=False)
    chosen = [str(f) for f in fit.form[sm_rows]]
    sm_sec, sm_aicc = _time_statsmodels([_span(y[i]) for i in sm_rows], chosen)
    table.append(_row(name, "statsmodels ETSModel", n, sm_sec, len(sm_rows), wall))
    ours_sm = _statsmodels_convention(fit, sm_rows)
    ok = ours_sm <= sm_aicc + np.maximum(TOL, 1e-3 * np.abs(sm_aicc))
    print(f"[{name}] AICc ours <= statsmodels + tol (same form): {ok.sum()}/{ok.size} "
          f"({ok.mean():.0%}); median ours - statsmodels {np.median(ours_sm - sm_aicc):+.2f}")
    print(f"[{name}] AICc ours - statsforecast's choice: median {np.median(diff_sf):+.2f}, "
          f"ours <= sf + {TOL}: {np.mean(diff_sf <= TOL):.0%} of {diff_sf.size}; on its "
          f"{additive.sum()} additive-error choices: median {np.median(diff_sf[additive]):+.2f}, "
          f"ours <= sf + {TOL}: {np.mean(diff_sf[additive] <= TOL):.0%}", flush=True)
    return table


def _row(name: str, method: str, n: int, seconds: float, sample: int,
         ours: float) -> list[str]:
    total = seconds / sample * n
    return [name, method, f"{n}", f"{total:.0f}", f"{1e3 * seconds / sample:.1f}",
            f"{total / ours:.0f}x", f"extrapolated from {sample}"]


def _print_table(table: list[list[str]]) -> None:
    head = ["data", "method", "series", "seconds", "ms/series", "vs ours", "how"]
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths], *table]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf-sample", type=int, default=200)
    parser.add_argument("--sm-sample", type=int, default=30)
    parser.add_argument("--no-walmart", action="store_true")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    units, censored = _synthetic_panel()
    table = _bench("synthetic", units, args)
    blanked = np.where(censored, np.nan, units)
    fit, wall, cpu = _time_ours(blanked)
    table.append(["synthetic", "ours, stock-out weeks as NaN", f"{len(units)}", f"{wall:.1f}",
                  f"{1e3 * wall / len(units):.2f}", "-", f"measured ({cpu:.0f} s CPU)"])
    walmart = None if args.no_walmart else _walmart_panel()
    if walmart is not None:
        table += _bench("walmart", walmart, args)
    print(f"\n$ .venv/bin/python benchmarks/ets_speed.py {' '.join(argv or sys.argv[1:])}")
    _print_table(table)


if __name__ == "__main__":
    main()
