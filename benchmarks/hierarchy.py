"""Forecasts at every level, reconciled: ours (models.hierarchy) vs hierarchicalforecast.

Usage:
    .venv/bin/python benchmarks/hierarchy.py [--datasets walmart,generated] [--windows 6]
        [--test 3] [--scale-series 30000] [--force]

For each dataset, in one run: every series of the hierarchy (models.hierarchy.build_hierarchy:
node -> parent chain -> channel -> total, crossed with sku -> group -> all) is aggregated
from the bottom panel (missing periods = 0 units). Base forecasts of every series at
`--windows` rolling cutoffs, `h` periods apart: (a) statsforecast AutoETS (non-seasonal,
see BENCHMARKS.md for why), (b) ours: the local engine (`ets, snaive, ma, auto`) run on the
aggregated panel. The last `--test` windows are scored; each is reconciled with residuals
(actual - base forecast) of the windows before it only. Reconciliations: none (base),
hierarchicalforecast BottomUp, MinTrace ols / wls_struct / mint_shrink (normality
intervals from the same residuals: sigma per series and step), and ours: bottom_up,
mint_shrink, mint_cv, wls_mix and wls_tuned (tuned on the earlier windows' residuals with
this M5 metric's weights and scales, taken from the history up to the scored cutoff).
Scores per (level, sku dimension): WRMSSE as M5 (RMSSE scaled by the mean squared first
difference up to the cutoff, weighted by units in the last h periods, normalised within the
group), their average; coverage of the 80% and 95%
intervals per level; the largest coherence error; bottom WRMSSE relative to unreconciled.
Then the 30,000-bottom-series reconciliation time and peak memory (a child process;
generated network and items).

Base forecasts are cached in benchmarks/out/hierarchy/<dataset>/ (reused unless --force).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.config import BacktestConfig  # noqa: E402
from features.contract.datasets import load_walmart  # noqa: E402
from features.engineering.history import build_panel  # noqa: E402
from features.schema import ITEM, NODE  # noqa: E402
from features.synthetic import generate_channel_data  # noqa: E402
from models.hierarchy import LEVELS, Hierarchy, aggregate, build_hierarchy, fit_reconciler  # noqa: E402
from models.hierarchy.covariance import shrunk_covariance  # noqa: E402
from models.hierarchy.tuned import cell_codes  # noqa: E402
from training.engine.backtest import run_backtest  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out" / "hierarchy"
H = 8
OURS = ("bottom_up", "mint_shrink", "mint_cv", "wls_mix", "wls_tuned")
PEERS = ("hf_bottom_up", "hf_ols", "hf_wls_struct", "hf_mint_shrink")
Z = {80: 1.2815515655446004, 95: 1.959963984540054}
Bands = dict[int, tuple[np.ndarray, np.ndarray]]


def load(name: str) -> tuple[np.ndarray, Hierarchy, str]:
    """All-level actuals (n_all x T), the hierarchy and the period grid of a dataset."""
    if name == "walmart":
        data = load_walmart(DATA / "walmart_store_dept")
        sell, nodes, items, freq = data.sell_through, data.nodes, None, data.freq
    else:  # generated: 24 selling nodes x 60 skus x 156 weeks, item category = sku group
        gen = generate_channel_data(nodes=24, skus=60, periods=156, seed=23)
        sell, nodes, freq = gen.sell_through, gen.nodes, gen.freq
        items = gen.items[[ITEM, "category"]].rename(columns={"category": "group"})
    panel = build_panel(sell[["date", NODE, ITEM, "units"]], freq=freq)
    hier = build_hierarchy(nodes, panel.keys[[NODE, ITEM]], items)
    return aggregate(np.nan_to_num(panel.units), hier), hier, freq


def cutoffs(n_periods: int, windows: int) -> list[int]:
    """Grid index of each rolling cutoff, `H` apart, the last `H` periods before the end."""
    return [n_periods - 1 - H * (windows - k) for k in range(windows)]


def ets_peer(y: np.ndarray, cut: int) -> np.ndarray:
    """statsforecast AutoETS (season_length=1) forecasts of every series from `cut`."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    n, t = y.shape[0], cut + 1
    df = pd.DataFrame({"unique_id": np.repeat(np.arange(n), t), "ds": np.tile(np.arange(t), n),
                       "y": y[:, :t].ravel()})
    sf = StatsForecast(models=[AutoETS(season_length=1)], freq=1, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=df, h=H)
    return fc.sort_values(["unique_id", "ds"])["AutoETS"].to_numpy().reshape(n, H)


def ours_base(y: np.ndarray, cuts: list[int], freq: str) -> list[np.ndarray]:
    """Our engine (ets, snaive, ma, auto) on the aggregated panel: `auto` per cutoff."""
    n, t = y.shape
    dates = pd.date_range("2020-01-03", periods=t, freq=freq)
    ids = np.repeat([f"{i:07d}" for i in range(n)], t)
    hist = pd.DataFrame({"date": np.tile(dates, n), NODE: ids, ITEM: "x", "units": y.ravel()})
    config = BacktestConfig(horizon=H, windows=len(cuts) - 1, step=H, warmup=1,
                            models=("ets", "snaive", "ma", "auto"))
    res = run_backtest(hist, freq=freq, config=config, cutoffs=[dates[c] for c in cuts])
    order = np.argsort(res.panel_keys[NODE].to_numpy()) if res.panel_keys is not None else None
    return [np.maximum(w.means["auto"][order], 0.0) for w in res.windows]


def base_forecasts(name: str, y: np.ndarray, cuts: list[int], freq: str, force: bool
                   ) -> dict[str, list[np.ndarray]]:
    """Cached base forecasts per source: list over cutoffs of n_all x H."""
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    out, seconds = {}, {}
    timing = folder / "seconds.json"
    known = json.loads(timing.read_text()) if timing.exists() else {}
    for source in ("autoets", "ours"):
        path = folder / f"{source}_{len(cuts)}.npy"
        if path.exists() and not force:
            out[source] = list(np.load(path))
            seconds[source] = known.get(source, float("nan"))
            continue
        start = time.perf_counter()
        fc = [ets_peer(y, c) for c in cuts] if source == "autoets" else ours_base(y, cuts, freq)
        seconds[source] = time.perf_counter() - start
        np.save(path, np.stack(fc))
        out[source] = fc
        timing.write_text(json.dumps({**known, **seconds}))
    print(f"{name}: base forecast seconds {seconds}", flush=True)
    return out


def hf_reconcile(method: str, hier: Hierarchy, base: np.ndarray, res: np.ndarray,
                 sigmah: np.ndarray) -> tuple[np.ndarray, Bands]:
    """hierarchicalforecast's reconciliation (bottoms last, as it expects): means from its
    fitted P, and its `normality` intervals (reconciled sd_h = sqrt(diag(SP (R o s_h s_h')
    P'S')), R = W's correlation) computed here without its n x n x h matrices, which took
    90 s a method on walmart (identical formula; R = I for its diagonal W, and for
    mint_shrink our LowRankCov, which equals its shrunk W to 1e-8, tests/models/hierarchy)."""
    from hierarchicalforecast.methods import BottomUp, MinTrace

    n_b = hier.n_bottom
    order = np.r_[np.arange(n_b, hier.n_all), np.arange(n_b)]
    back = np.argsort(order)
    s = hier.summing.toarray()[order]
    rec = BottomUp() if method == "bottom_up" else MinTrace(method=method)
    kwargs = {}
    if method == "mint_shrink":
        filled = np.nan_to_num(res[order])
        kwargs = {"y_insample": filled, "y_hat_insample": np.zeros_like(filled)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec.fit(S=s, y_hat=base[order], **kwargs)
    sp = s @ rec.P
    means = (sp @ base[order])[back]
    sp = sp[back][:, back]  # our row order from here on
    var = (sp**2) @ sigmah**2
    if method == "mint_shrink":
        cov = shrunk_covariance(np.nan_to_num(res))
        sd = np.sqrt(cov.diag + np.sum(cov.factor**2, axis=1))
        var = (sp**2) @ (sigmah**2 * (cov.diag / sd**2)[:, None])
        low = cov.factor / sd[:, None]
        for h in range(sigmah.shape[1]):
            var[:, h] += np.sum((sp @ (sigmah[:, h:h + 1] * low)) ** 2, axis=1)
    sd_rec = np.sqrt(np.maximum(var, 0.0))
    return means, {p: (means - Z[p] * sd_rec, means + Z[p] * sd_rec) for p in (80, 95)}


def ours_reconcile(method: str, hier: Hierarchy, base: np.ndarray, res: np.ndarray,
                   steps: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, Bands]:
    """Our reconciliation: means and {80, 95: (lo, hi)}; `weights` for wls_tuned."""
    rec = fit_reconciler(hier, res, method, steps=steps,
                         weights=weights if method == "wls_tuned" else None)
    means = rec.means(base)
    q = rec.quantiles(means, [0.025, 0.1, 0.9, 0.975])
    return means, {80: (q[..., 1], q[..., 2]), 95: (q[..., 0], q[..., 3])}


def groups(hier: Hierarchy, items_grouped: bool) -> dict[str, np.ndarray]:
    """Rows of each scored group: level x sku dimension (sku, group, all)."""
    keys = hier.keys
    bottom_skus = set(keys[ITEM].iloc[: hier.n_bottom])
    dim = np.where(keys[ITEM] == "*", "*", np.where(keys[ITEM].isin(bottom_skus), "sku", "group"))
    out = {}
    for level in LEVELS:
        for d in ("sku", "group", "*"):
            rows = np.flatnonzero((keys["level"].to_numpy() == level) & (dim == d))
            if rows.size and (d != "group" or items_grouped):
                out[f"{level}/{d}"] = rows
    return out


def scale_and_weight(y: np.ndarray, cut: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series M5 scale (mean squared first difference up to `cut`) and M5 weight (units
    in the last H periods up to `cut`; 0 where the scale is 0)."""
    hist = y[:, : cut + 1]
    scale = np.mean(np.diff(hist, axis=1) ** 2, axis=1)
    return scale, np.where(scale > 0, hist[:, -H:].sum(axis=1), 0.0)


def rmsse_parts(y: np.ndarray, cut: int, fcst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per series RMSSE of one window and its M5 weight (units in the last H periods)."""
    scale, weight = scale_and_weight(y, cut)
    actual = y[:, cut + 1: cut + 1 + H]
    with np.errstate(invalid="ignore", divide="ignore"):
        rmsse = np.sqrt(np.mean((actual - fcst) ** 2, axis=1) / scale)
    return np.nan_to_num(rmsse), weight


def m5_weights(y: np.ndarray, cut: int, hier: Hierarchy) -> np.ndarray:
    """Each series' weight of its RMSE in its cell's WRMSSE, from the history up to `cut`
    only (M5 weight / sqrt(scale), normalised within its level x sku-kind cell)."""
    scale, weight = scale_and_weight(y, cut)
    cells = cell_codes(hier)
    total = np.bincount(cells, weights=weight)[cells]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = weight / np.sqrt(scale) / total
    return np.nan_to_num(np.where(scale > 0, out, 0.0), posinf=0.0)


def score_window(y: np.ndarray, cut: int, hier: Hierarchy, grp: dict[str, np.ndarray],
                 means: np.ndarray, bands: Bands) -> dict[str, float]:
    """WRMSSE per group, coverage per level and coherence error of one window."""
    rmsse, weight = rmsse_parts(y, cut, means)
    out: dict[str, float] = {}
    for name, rows in grp.items():
        out[f"wrmsse {name}"] = float(np.sum(rmsse[rows] * weight[rows]) / np.sum(weight[rows]))
    actual = y[:, cut + 1: cut + 1 + H]
    codes = hier.level_codes()
    for level_i, level in enumerate(LEVELS):
        rows = codes == level_i
        for pct, (lo, hi) in bands.items():
            inside = (actual[rows] >= lo[rows] - 1e-9) & (actual[rows] <= hi[rows] + 1e-9)
            out[f"cov{pct} {level}"] = float(inside.mean())
    coherent = aggregate(means[: hier.n_bottom], hier)
    out["coherence"] = float(np.max(np.abs(coherent - means) / np.maximum(1.0, np.abs(means))))
    return out


def residual_history(y: np.ndarray, cuts: list[int], fc: list[np.ndarray], k: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals (actual - forecast) of windows before window k, their steps and sigma per
    series and step (for hierarchicalforecast's normality intervals)."""
    res = np.hstack([y[:, c + 1: c + 1 + H] - fc[j] for j, c in enumerate(cuts[:k])])
    steps = np.tile(np.arange(1, H + 1), k)
    sigmah = np.stack([np.sqrt(np.nanmean(res[:, steps == s] ** 2, axis=1))
                       for s in range(1, H + 1)], axis=1)
    return res, steps, np.maximum(sigmah, 1e-6)


def run_dataset(name: str, windows: int, test: int, force: bool) -> pd.DataFrame:
    """Every source x method's scores on the last `test` windows of one dataset."""
    y, hier, freq = load(name)
    cuts = cutoffs(y.shape[1], windows)
    print(f"{name}: {hier.n_bottom} bottom series, {hier.n_all} in all, cutoffs {cuts}",
          flush=True)
    sources = base_forecasts(name, y, cuts, freq, force)
    grp = groups(hier, items_grouped=name != "walmart")
    rows = []
    for source, fc in sources.items():
        for k in range(windows - test, windows):
            res, steps, sigmah = residual_history(y, cuts, fc, k)
            weights = m5_weights(y, cuts[k], hier)
            for method in ("none", *[f"ours_{m}" for m in OURS], *PEERS):
                start = time.perf_counter()
                if method.startswith("hf_"):
                    means, bands = hf_reconcile(method.removeprefix("hf_"), hier, fc[k], res,
                                                sigmah)
                else:
                    means, bands = ours_reconcile(method.removeprefix("ours_"), hier, fc[k],
                                                  res, steps, weights)
                seconds = time.perf_counter() - start
                scores = score_window(y, cuts[k], hier, grp, means, bands)
                print(f"  {source} window {k} {method}: {seconds:.1f} s", file=sys.stderr,
                      flush=True)
                rows.append({"dataset": name, "base": source, "method": method, "window": k,
                             "seconds": seconds, **scores})
    frame = pd.DataFrame(rows)
    return frame.groupby(["dataset", "base", "method"], sort=False).mean(numeric_only=True
                                                                       ).drop(columns="window")


def report(scores: pd.DataFrame) -> None:
    """Print WRMSSE per group (+ M5 average), coverage per level, coherence and bottom ratio."""
    wr = [c for c in scores if c.startswith("wrmsse ")]
    scores = scores.copy()
    scores["wrmsse avg"] = scores[wr].mean(axis=1)
    none = scores.xs("none", level="method")["wrmsse node/sku"]
    ratio = scores["wrmsse node/sku"] / none.reindex(scores.index.droplevel("method")).to_numpy()
    scores["bottom vs none"] = ratio
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    for title, cols in (("WRMSSE", [*wr, "wrmsse avg", "bottom vs none"]),
                        ("coverage", [c for c in scores if c.startswith("cov")]),
                        ("coherence / seconds", ["coherence", "seconds"])):
        table = scores[cols].rename(columns=lambda c: c.removeprefix("wrmsse "))
        fmt = "{:.2e}" if title.startswith("coherence") else "{:.4f}"
        print(f"\n{title}\n{table.to_string(float_format=fmt.format)}", flush=True)


def scale_child(n_series: int) -> None:
    """Time our reconciliation of ~`n_series` bottom series (generated network and items);
    printed as JSON for the parent, which reads the peak memory."""
    from features.synthetic.catalog import build_calendar, build_catalog
    from features.synthetic.network import build_network

    rng = np.random.default_rng(23)
    n_skus = 100
    network = build_network(rng, n_series // n_skus)
    catalog = build_catalog(rng, n_skus, build_calendar(pd.Timestamp("2024-01-01"), 60, 7))
    bottom = pd.MultiIndex.from_product([network.selling_ids, catalog.skus],
                                        names=[NODE, ITEM]).to_frame(index=False)
    items = pd.DataFrame({ITEM: catalog.skus, "group": [f"G{c}" for c in catalog.category]})
    start = time.perf_counter()
    hier = build_hierarchy(network.nodes, bottom, items)
    built = time.perf_counter() - start
    m = 24
    level = rng.gamma(2.0, 10.0, size=(hier.n_bottom, 1))
    res = aggregate(level * rng.normal(0, 0.3, size=(hier.n_bottom, m)), hier)
    res += rng.normal(0, 1.0, size=res.shape) * np.sqrt(np.abs(res).mean(axis=1, keepdims=True))
    base = aggregate(level * np.ones((hier.n_bottom, H)), hier)
    out = {"n_bottom": hier.n_bottom, "n_all": hier.n_all, "build_s": built}
    for method in ("mint_shrink", "mint_cv", "wls_mix", "wls_tuned"):
        start = time.perf_counter()
        rec = fit_reconciler(hier, res, method, steps=np.tile(np.arange(1, H + 1), m // H))
        means = rec.means(base)
        rec.quantiles(means, [0.025, 0.1, 0.5, 0.9, 0.975])
        out[f"{method}_s"] = time.perf_counter() - start
    print(json.dumps(out))


def scale(n_series: int) -> dict[str, float]:
    """Run `scale_child` in a child process; add its peak resident memory (GiB)."""
    proc = subprocess.run([sys.executable, __file__, "--scale-child", str(n_series)],
                          capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["peak_gib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return out


def main() -> None:
    """Parse arguments, run every dataset and the scale check, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="walmart,generated")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--test", type=int, default=3)
    parser.add_argument("--scale-series", type=int, default=30000)
    parser.add_argument("--scale-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    if args.scale_child:
        scale_child(args.scale_child)
        return
    frames = [run_dataset(d, args.windows, args.test, args.force)
              for d in args.datasets.split(",") if d]
    if frames:
        report(pd.concat(frames))
    if args.scale_series:
        print(f"\nscale: {json.dumps(scale(args.scale_series))}", flush=True)


if __name__ == "__main__":
    main()
