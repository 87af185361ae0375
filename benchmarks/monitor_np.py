"""Issue 21 feasibility: per-series drop thresholds allocated by detection power (Neyman-Pearson).

    .venv/bin/python benchmarks/monitor_np.py

On the walmart suite of benchmarks/monitor.py, the kept drop score
(`models.monitor.demand.drop_signal`) gets one medium threshold per group of similar series
instead of one pooled threshold. Everything that sets the thresholds comes from data before
the cut (the first week of the 40-week window, identical in both copies): per series,
(i) its clean history: how many alerts each threshold would have started in its scored past
periods, and (ii) its detection power: a standard lasting drop (units from the onset on x
0.6, and x 0.35) injected into its own past at every onset whose 3 periods end before the
cut, re-scored by the detector on data up to onset + 2 (`standard_drop_scores`). Series are
taken one by one, or grouped by power (median score of their own injected 60% drops,
quantile bins) or by error scale x lag-1 error autocorrelation (terciles); per series or
group the threshold maximises share of injected drops found - lambda x alert starts per
1,000 series-periods (`allocate`), the false-alarm rate being the group's own history or
the pooled one (the same tail for everyone, only the power differs); lambda spans the
budget. Printed, drops 35% / 60% at 0.5 / 0.6 / 1.0 false drops per 1,000 series-periods:
- threshold form (found = the injected series' score >= its threshold 0..2 periods after
  the onset; false = alert starts on the clean copy's window): `oracle` picks lambda (or the
  pooled threshold) on the clean window's own false rate, `calibrated` on the history's
  (no look-ahead);
- ceiling: the most labelled drops one threshold per group could find at each false rate
  with the labels known (`grouped_ceiling`), an upper bound for any grouped allocation;
- replay form (the kept alert lifecycle, reading (b) of benchmarks/monitor.py): the
  allocation as a per-series factor on the drop score (pooled threshold / own threshold,
  lambda at the history budget of the medium rate), calibrated by the kept `thresholds_at`
  at several medium rates, against the kept score at the same rates.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.monitor import PLAN, WINDOW, false_alerts, load_walmart, score  # noqa: E402
from features.synthetic.anomalies import inject_anomalies  # noqa: E402
from models.monitor.alerts import replay_signals  # noqa: E402
from models.monitor.config import MonitorConfig  # noqa: E402
from models.monitor.demand import demand_expectation, drop_signal  # noqa: E402
from models.monitor.panel import Panel, build_panel  # noqa: E402
from models.monitor.signal import Signal  # noqa: E402

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
GRID = np.round(np.arange(1.0, 15.01, 0.1), 2)
"""Candidate thresholds of the drop score."""
LAMBDAS = np.exp(np.linspace(np.log(1e-3), np.log(20.0), 150))
"""Prices of one false alert per 1,000 series-periods, in shares of drops found."""
FARS = (0.5, 0.6, 1.0)
MAGNITUDES = (0.35, 0.6)
MEDIUM_RATES = (3e-4, 4.5e-4, 6e-4, 9e-4)
CFG = MonitorConfig()


def standard_drop_scores(panel: Panel, config: MonitorConfig, onsets: IntArray,
                         magnitude: float) -> FloatArray:
    """(series x onsets) the largest drop score 0..2 periods after each onset, with the units
    from the onset on x `magnitude` (rounded), from data up to onset + 2 only."""
    out = np.full((panel.units.shape[0], len(onsets)), -1.0)
    for j, tau in enumerate(onsets):
        end = int(tau) + 3
        units = panel.units[:, :end].copy()
        units[:, tau:] = np.round(units[:, tau:] * magnitude)
        part = replace(panel, units=units, on_hand=panel.on_hand[:, :end],
                       sell_in=panel.sell_in[:, :end], promo=panel.promo[:, :end],
                       price=panel.price[:, :end], dates=panel.dates[:end])
        signal = drop_signal(part, demand_expectation(part, config), config)
        out[:, j] = np.nanmax(np.nan_to_num(signal.score[:, tau:end], nan=-1.0), axis=1)
    return out


def start_counts(score: FloatArray, lo: int, hi: int) -> IntArray:
    """(series x GRID) alerts each threshold would have started in periods lo..hi-1 (an
    alert starts where the score reaches it and the period before did not)."""
    now = np.nan_to_num(score, nan=-np.inf)
    before = np.concatenate([np.full((now.shape[0], 1), -np.inf), now[:, :-1]], axis=1)
    low = np.fmin(now, before)[:, lo:hi, None]
    return ((now[:, lo:hi, None] >= GRID).sum(axis=1)
            - (low >= GRID).sum(axis=1)).astype(np.int64)


@dataclass(frozen=True)
class History:
    """What the allocation knows at the cut, per series.

    Attributes:
        starts: (series x GRID) alerts each threshold would have started on its history.
        periods: scored history periods of each series.
        detected: (series x GRID) share of its injected standard drops each threshold finds
            (the magnitudes weighted equally).
        power: median score of its injected 60% drops.
    """

    starts: IntArray
    periods: IntArray
    detected: FloatArray
    power: FloatArray


def history_at(panel: Panel, signal: Signal, config: MonitorConfig, cut: int,
               first_onset: int) -> History:
    """The series' clean history (scores from `signal.calibrate_from` to the cut) and their
    injected standard drops (onsets from `first_onset`, ending before the cut)."""
    lo = signal.calibrate_from
    onsets = np.arange(first_onset, cut - 2, dtype=np.int64)
    found = {m: standard_drop_scores(panel, config, onsets, m) for m in MAGNITUDES}
    detected = np.mean([(found[m][:, :, None] >= GRID).mean(axis=1) for m in MAGNITUDES],
                       axis=0)
    return History(starts=start_counts(signal.score, lo, cut),
                   periods=(~np.isnan(signal.score[:, lo:cut])).sum(axis=1),
                   detected=detected, power=np.median(found[0.6], axis=1))


def quantile_groups(values: FloatArray, bins: int) -> IntArray:
    """Group of each series: its quantile bin of `values` (0 .. bins-1)."""
    edges = np.quantile(values, np.linspace(0, 1, bins + 1))
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)


def allocate(history: History, groups: IntArray, lam: float, *, pooled: bool) -> FloatArray:
    """Per series, its group's threshold maximising drops found - lam x false alerts per
    1,000 series-periods (the group's own false rate, or the pooled one with `pooled`)."""
    everyone = history.starts.sum(axis=0) / max(int(history.periods.sum()), 1)
    out = np.zeros(len(groups))
    for g in np.unique(groups):
        rows = groups == g
        rate = everyone if pooled else (history.starts[rows].sum(axis=0)
                                        / max(int(history.periods[rows].sum()), 1))
        gain = history.detected[rows].mean(axis=0) - lam * 1000 * rate
        out[rows] = GRID[int(np.argmax(gain))]
    return out


def rate_at(counts: IntArray, periods: float, thresholds: FloatArray) -> float:
    """Alerts started per 1,000 series-periods with per-series thresholds."""
    col = np.clip(np.searchsorted(GRID, thresholds - 1e-9), 0, len(GRID) - 1)
    return float(counts[np.arange(len(thresholds)), col].sum() * 1000 / periods)


def found_share(score: FloatArray, rows: list[tuple[int, int, float]],
                thresholds: FloatArray) -> str:
    """Drops found per magnitude ("0.87 / 0.77"): score >= the series' threshold 0..2
    periods after the onset."""
    found: dict[float, list[bool]] = {}
    for row, t0, size in rows:
        hit = np.nan_to_num(score[row, t0:t0 + 3], nan=-np.inf) >= thresholds[row]
        found.setdefault(size, []).append(bool(hit.any()))
    return " / ".join(f"{np.mean(v):.2f}" for _, v in sorted(found.items()))


@dataclass(frozen=True)
class Outcome:
    """One threshold setting: history and window false rates, drops found."""

    history: float
    window: float
    found: str
    thresholds: FloatArray


def pick(outcomes: list[Outcome], far: float, *, oracle: bool) -> Outcome:
    """The setting with the most drops found at a window (oracle) or history (calibrated)
    false rate <= far; calibrated takes the largest history rate within it."""
    if oracle:
        ok = [o for o in outcomes if o.window <= far] or [min(outcomes, key=lambda o: o.window)]
        return max(ok, key=lambda o: (sum(map(float, o.found.split(" / "))), -o.window))
    ok = [o for o in outcomes if o.history <= far] or [min(outcomes, key=lambda o: o.history)]
    return max(ok, key=lambda o: (o.history, -o.window))


def cells(outcomes: list[Outcome]) -> str:
    """Markdown cells: oracle and calibrated at each of FARS."""
    parts = []
    for oracle in (True, False):
        for far in FARS:
            o = pick(outcomes, far, oracle=oracle)
            parts.append(f"{o.found} ({o.window:.2f})")
    return " | ".join(parts)


def variants(history: History, exp_scale: FloatArray, exp_ac: FloatArray
             ) -> dict[str, Callable[[float], FloatArray]]:
    """Threshold settings by lambda: the allocation variants (power / scale x ac groups)."""
    power8, power4 = quantile_groups(history.power, 8), quantile_groups(history.power, 4)
    scale_ac = quantile_groups(exp_scale, 3) * 3 + quantile_groups(exp_ac, 3)
    return {
        "power, 4 groups, own false rate": lambda lam: allocate(history, power4, lam,
                                                                pooled=False),
        "power, 8 groups, own false rate": lambda lam: allocate(history, power8, lam,
                                                                pooled=False),
        "power, 8 groups, pooled false rate": lambda lam: allocate(history, power8, lam,
                                                                   pooled=True),
        "per series, pooled false rate": lambda lam: allocate(
            history, np.arange(len(history.power), dtype=np.int64), lam, pooled=True),
        "scale x ac 3x3, own false rate": lambda lam: allocate(history, scale_ac, lam,
                                                               pooled=False),
        "scale x ac 3x3, pooled false rate": lambda lam: allocate(history, scale_ac, lam,
                                                                  pooled=True),
    }


def grouped_ceiling(groups: IntArray, window: IntArray, best_scores: FloatArray,
                    label_rows: IntArray, label_sixty: npt.NDArray[np.bool_], budget: int
                    ) -> tuple[int, int]:
    """Most labelled drops (all, of them at 60%) one threshold per group can find with at
    most `budget` false alert starts in the window: labels known, an upper bound (knapsack
    over the groups' thresholds)."""
    best = np.full(budget + 1, -1)
    best[0] = 0
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        cost = window[members].sum(axis=0)
        mine = np.isin(label_rows, members)
        hit = best_scores[mine][:, None] >= GRID
        value = hit.sum(axis=0) * 1000 + (hit & label_sixty[mine][:, None]).sum(axis=0)
        new = np.full(budget + 1, -1)
        for c, v in {(int(c), int(v)) for c, v in zip(cost, value, strict=True)}:
            if c <= budget:
                fits = best[:budget + 1 - c]
                new[c:] = np.maximum(new[c:], np.where(fits >= 0, fits + v, -1))
        best = new
    return int(best.max()) // 1000, int(best.max()) % 1000


def ceiling_rows(history: History, scale_ac: tuple[FloatArray, FloatArray], window: IntArray,
                 injected: FloatArray, rows: list[tuple[int, int, float]]) -> list[str]:
    """Markdown rows of `grouped_ceiling` per grouping at each of FARS (kept score)."""
    n, scale, ac = len(history.power), *scale_ac
    win_periods = n * WINDOW
    best = np.array([np.nanmax(np.nan_to_num(injected[r, t0:t0 + 3], nan=-1.0))
                     for r, t0, _ in rows])
    label_rows = np.array([r for r, _, _ in rows])
    sixty = np.array([size == 0.6 for *_, size in rows])
    groups = {"one threshold": [np.zeros(n, dtype=np.int64)],
              "power, 4 / 8 / 16 groups": [quantile_groups(history.power, b) for b in (4, 8, 16)],
              "scale x ac 3x3": [quantile_groups(scale, 3) * 3 + quantile_groups(ac, 3)]}
    lines = [f"ceiling, labels known (drops found of {len(rows)}, of them at 60%), kept score:"]
    for name, by in groups.items():
        found = [[grouped_ceiling(g, window, best, label_rows, sixty,
                                  int(far * win_periods / 1000)) for far in FARS] for g in by]
        lines.append(f"| {name} | " + " | ".join(
            " / ".join(f"{a}, {b}" for a, b in (f[i] for f in found)) for i in range(len(FARS)))
            + " |")
    return lines


def scale_and_ac(panel: Panel, lo: int, cut: int) -> tuple[FloatArray, FloatArray]:
    """Per series: median error scale and lag-1 autocorrelation of its errors in lo..cut-1."""
    exp = demand_expectation(panel, CFG)
    error = (exp.z * exp.scale)[:, lo:cut]
    centred = error - np.nanmean(error, axis=1, keepdims=True)
    ac = np.nansum(centred[:, 1:] * centred[:, :-1], axis=1) / np.nansum(centred**2, axis=1)
    return np.nanmedian(exp.scale[:, lo:cut], axis=1), np.nan_to_num(ac)


def replay_drops(panel: Panel, signal: Signal, nodes: pd.DataFrame, rate: float
                 ) -> pd.DataFrame:
    """The kept replay of the drop signal alone over the window, medium rate `rate`."""
    config = replace(CFG, rates=(CFG.rates[0], rate, *CFG.rates[2:]))
    return replay_signals(panel, [signal], nodes, since=panel.dates[-WINDOW].date(),
                          config=config)


def replay_rows(pc: Panel, pi: Panel, kc: Signal, ki: Signal, nodes: pd.DataFrame,
                labels: pd.DataFrame, factors: dict[str, FloatArray]) -> list[str]:
    """Markdown rows: drops (b) and false drops per 1,000 for each score factor and rate."""
    drops = labels[labels["kind"] == "demand_drop"]
    lines = []
    for name, factor in factors.items():
        cell = []
        for rate in MEDIUM_RATES:
            clean = replay_drops(pc, replace(kc, score=kc.score * factor[:, None]), nodes, rate)
            hit = replay_drops(pi, replace(ki, score=ki.score * factor[:, None]), nodes, rate)
            table = score(hit, drops).set_index("magnitude")["recall_raised_2"]
            far = false_alerts(clean, len(pc.keys), WINDOW).get("demand_drop", 0.0)
            cell.append(f"{table.loc[0.35]:.2f} / {table.loc[0.6]:.2f} ({far:.2f})")
        lines.append(f"| {name} | " + " | ".join(cell) + " |")
    return lines


def main() -> None:
    """Print the threshold-form and replay-form tables (markdown)."""
    began = time.perf_counter()
    clean, nodes = load_walmart()
    injected, labels = inject_anomalies(clean, seed=21, plan=PLAN)
    pc, pi = build_panel(clean), build_panel(injected)
    kc = drop_signal(pc, demand_expectation(pc, CFG), CFG)
    ki = drop_signal(pi, demand_expectation(pi, CFG), CFG)
    cut = len(pc.dates) - WINDOW
    first_onset = pc.season + CFG.min_history  # the 3 periods see last year's season
    history = history_at(pc, kc, CFG, cut, first_onset)
    window = start_counts(kc.score, cut, len(pc.dates))
    index = {k: i for i, k in enumerate(zip(pi.keys["node_id"], pi.keys["sku"], strict=True))}
    rows = [(index[(d.node_id, d.sku)], int(pi.dates.get_loc(d.onset)), float(d.magnitude))
            for d in labels[labels["kind"] == "demand_drop"].itertuples()]
    hist_periods, win_periods = float(history.periods.sum()), float(len(pc.keys) * WINDOW)

    def outcome(th: FloatArray) -> Outcome:
        return Outcome(rate_at(history.starts, hist_periods, th),
                       rate_at(window, win_periods, th), found_share(ki.score, rows, th), th)

    print(f"suite and history: {time.perf_counter() - began:.0f} s; median power (60% drop "
          f"score) {np.median(history.power):.2f}")
    print("| thresholds | oracle " + " | oracle ".join(map(str, FARS)) + " | calibrated "
          + " | calibrated ".join(map(str, FARS)) + " |")
    n = len(pc.keys)
    pooled = [outcome(np.full(n, h)) for h in GRID[::-1]]
    print(f"| pooled (kept score, one threshold) | {cells(pooled)} |", flush=True)
    scale, ac = scale_and_ac(pc, kc.calibrate_from, cut)
    settings = variants(history, scale, ac)
    for name, by_lambda in settings.items():
        print(f"| {name} | {cells([outcome(by_lambda(lam)) for lam in LAMBDAS])} |",
              flush=True)
    for line in ceiling_rows(history, (scale, ac), window, ki.score, rows):
        print(line, flush=True)
    medium = CFG.rates[1] * 1000
    h_pool = pick(pooled, medium, oracle=False).thresholds[0]
    factors = {"kept score": np.ones(n)}
    for name in ("power, 8 groups, own false rate", "power, 8 groups, pooled false rate",
                 "per series, pooled false rate"):
        th = pick([outcome(settings[name](lam)) for lam in LAMBDAS], medium,
                  oracle=False).thresholds
        factors[f"{name} (factor {h_pool:.1f} / own threshold)"] = h_pool / th
    print("| replay, medium rate | " + " | ".join(f"{r:g}" for r in MEDIUM_RATES) + " |")
    for line in replay_rows(pc, pi, kc, ki, nodes, labels, factors):
        print(line, flush=True)
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
