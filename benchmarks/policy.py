"""Policy backtest (issue 5): channelcast vs the two fair-share policies under scarce supply.

Usage:
    .venv/bin/python benchmarks/policy.py [--dataset walmart|generated|demo|all]
        [--models lgbm,snaive,ma,croston,tsb,ets,auto] [--lgbm-refit-every 13]
        [--seeds 3,5,11,12] [--supply demand|flat|both] [--frontier]

Datasets:
- walmart: ../shared/data/walmart_store_dept, sales as demand, lead time 1 week (nodes.csv),
  review 1 week, replay from week 60 (83 weeks);
- generated: `generate_channel_data(nodes=20, skus=40, periods=130, seed=3)`, true demand
  (truth) as demand, each node's lead time rounded up to weeks, review 1 week, replay from
  week 70; pack sizes from central_stock; `--seeds` replays other seeds of the same
  generator too (one table each, `generated_seed<N>`), to see how much of a difference
  between policies is the draw of the data;
- demo: the same on `channelcast demo`'s data (24 nodes x 60 skus x 156 weeks, seed 7).
Central supply: `demand` (each week, the share of that week's realised demand) and `flat` (the
share of the replay's mean weekly demand every week: the same total on a constant plan), both
replayed on the same forecasts.
Forecasts: the rolling-origin backtest, one cutoff per replayed week, 15 quantile levels; by
default the production forecaster's models (lgbm, snaive, ma, croston, tsb, ets, auto), with
LightGBM refitted every 13 weeks and forecasting every week from that week's features with
the last booster (a quarterly retrain; refitting every week would take hours on walmart);
ETS takes ~13-20 minutes on walmart. `--models snaive,ma,croston,tsb,ets,auto` is the set
without LightGBM of the earlier tables, `--models snaive,ma,croston,tsb,auto` the fast set.
Prints the protection-interval coverage check (correlation chosen on the first half of the
weeks, coverage on the second) and the policy table, plus channelcast with the backorder view
of the interval (`lost_sales=False`) for comparison. The table has the `oracle` (perfect
foresight, the ceiling; `fill_bound`: HiGHS' upper bound on any policy's fill rate, beside the
oracle's plan), each policy's share of the headroom over the best fair share
(`headroom_fill`, `headroom_value` on the money cost) and the money columns at the default
rates (margin 0.3 x price, holding 0.25/52 a week of the stock's value; walmart has no prices:
its units are dollars of sales, worth 1 each). Tables are written to
benchmarks/out/policy/{dataset}[_{models}].csv. Skips walmart with a message when absent.
`--supply demand` (or `flat`) replays one supply mode only, without the backorder view.
`--frontier` also sweeps each policy's service knob (`training.policy.frontier`: channelcast's
fill quantile, fair share's cover multiple) with supply in step with demand, writes
`{tag}_frontier.csv`, prints where a fair-share point lies above channelcast's frontier and
plots fill rate against average total stock (and node stock), one panel per scarcity, with
the oracle's point: benchmarks/figures/policy-frontier-{tag}.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import pandas as pd  # noqa: E402

from features.contract.datasets import load_walmart  # noqa: E402
from features.synthetic import generate_channel_data  # noqa: E402
from training.policy.backtest import (  # noqa: E402
    LGBM_REFIT_EVERY,
    PRODUCTION_MODELS,
    PolicyBacktestConfig,
    add_headroom,
    policy_forecasts,
    run_policy_backtest,
)
from training.policy.frontier import compare_frontiers, run_frontier  # noqa: E402
from training.policy.interval_check import check_intervals  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out" / "policy"


def _walmart() -> tuple[pd.DataFrame, pd.DataFrame, str, None, None, int] | None:
    folder = DATA / "walmart_store_dept"
    if not folder.exists():
        print(f"skipping walmart: {folder} is absent")
        return None
    data = load_walmart(folder)
    return data.sell_through, data.nodes, data.freq, None, None, 60


def _generated(nodes: int, skus: int, periods: int, seed: int, start: int
               ) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame, pd.Series, int]:
    data = generate_channel_data(nodes=nodes, skus=skus, periods=periods, freq="W", seed=seed)
    truth = data.truth.rename(columns={"demand": "units"})[["date", "node_id", "sku", "units"]]
    freq = str(pd.infer_freq(pd.DatetimeIndex(sorted(data.sell_through["date"].unique()))))
    packs = data.central_stock.set_index("sku")["pack_size"]
    return data.sell_through, data.nodes, freq, truth, packs, start


SHOWN = ["supply", "scarcity", "policy", "fill_rate", "fill_bound", "supply_cap", "lost_units",
         "avg_node_stock", "avg_central_stock", "avg_total_stock", "end_node_stock", "stockouts",
         "lost_margin", "holding_cost", "cost", "headroom_fill", "headroom_value"]


def run(name: str, models: tuple[str, ...] = PRODUCTION_MODELS, seed: int = 3,
        refit_every: int = LGBM_REFIT_EVERY, supply: str = "both", frontier: bool = False
        ) -> pd.DataFrame | None:
    loaded = {"walmart": _walmart,
              "generated": lambda: _generated(20, 40, 130, seed, 70),
              "demo": lambda: _generated(24, 60, 156, 7, 60)}[name]()
    if name == "generated" and seed != 3:
        name = f"generated_seed{seed}"
    if loaded is None:
        return None
    history, nodes, freq, demand, packs, start = loaded
    config = PolicyBacktestConfig(start=start, models=models, lgbm_refit_every=refit_every)
    began = time.perf_counter()
    forecasts = policy_forecasts(history, freq=freq, nodes=nodes, config=config, demand=demand)
    check = check_intervals(forecasts)
    parts = [run_policy_backtest(forecasts, nodes=nodes, pack_sizes=packs,
                                 config=replace(config, supply=mode))
             for mode in (("demand", "flat") if supply == "both" else (supply,))]
    if supply == "both":
        backorder = run_policy_backtest(forecasts, nodes=nodes, pack_sizes=packs,
                                        config=replace(config, lost_sales=False,
                                                       policies=("channelcast",)))
        backorder["policy"] = "channelcast (backorder view)"
        parts.append(backorder)
    table = add_headroom(pd.concat(parts).sort_values(["supply", "scarcity", "policy"],
                                                      kind="stable"))
    print(f"\n== {name}: {forecasts.means.shape[0]} replayed periods, "
          f"{forecasts.panel.n_series:,} series; backtest {forecasts.seconds:.0f} s, total "
          f"{time.perf_counter() - began:.0f} s")
    print(f"interval coverage (correlation chosen on the first half: {check.correlation:g}):")
    print(check.table.round(3).to_string(index=False))
    print(table[SHOWN].round(5).to_string(index=False))
    OUT.mkdir(parents=True, exist_ok=True)
    tag = name if models == PRODUCTION_MODELS else f"{name}_{'-'.join(models)}"
    tag += f"_refit{refit_every}" if "lgbm" in models and refit_every != LGBM_REFIT_EVERY else ""
    table.to_csv(OUT / f"{tag}.csv", index=False)
    check.table.to_csv(OUT / f"{tag}_coverage.csv", index=False)
    if frontier:
        sweep = run_frontier(forecasts, nodes=nodes, config=config, pack_sizes=packs)
        sweep.to_csv(OUT / f"{tag}_frontier.csv", index=False)
        print(f"frontier of {name}:")
        print(sweep[["scarcity", "policy", "knob", "fill_rate", "avg_node_stock",
                     "avg_total_stock", "cost"]].round(5).to_string(index=False))
        for stock in ("avg_total_stock", "avg_node_stock"):
            print(f"fair-share points above channelcast's frontier (fill rate at equal {stock}):")
            print(compare_frontiers(sweep, stock=stock).to_string(index=False))
        print(f"wrote {plot_frontier(sweep, table, tag)}")
    return table


def plot_frontier(sweep: pd.DataFrame, table: pd.DataFrame, tag: str) -> Path:
    """Fill rate against average total stock (top) and node stock (bottom) of each policy's
    sweep, one column per scarcity, with the oracle's point; the figure's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    levels = sorted(sweep["scarcity"].unique())
    fig, axes = plt.subplots(2, len(levels), figsize=(5 * len(levels), 8), squeeze=False)
    oracle = table[(table["policy"] == "oracle") & (table["supply"] == "demand")]
    for col, share in enumerate(levels):
        rows = sweep[sweep["scarcity"] == share]
        for row, stock in enumerate(("avg_total_stock", "avg_node_stock")):
            ax = axes[row, col]
            for policy, points in rows.groupby("policy", sort=False):
                points = points.sort_values(stock)
                ax.plot(points[stock], points["fill_rate"], marker="o", label=policy)
            best = oracle[oracle["scarcity"] == share]
            if len(best):
                ax.plot(best[stock], best["fill_rate"], marker="*", markersize=14,
                        linestyle="none", color="black", label="oracle")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(stock.replace("_", " ") + " (units, log scale)")
            ax.set_ylabel("fill rate")
            ax.set_title(f"supply {share:g} x demand")
            ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(loc="lower left", fontsize=8)
    fig.suptitle(f"{tag}: each policy over its service knob (channelcast: fill quantile; "
                 "fair share: cover multiple)")
    fig.tight_layout()
    path = ROOT / "benchmarks" / "figures" / f"policy-frontier-{tag}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("walmart", "generated", "demo", "all"),
                        default="all")
    parser.add_argument("--models", default=",".join(PRODUCTION_MODELS),
                        help="backtest models behind the forecasts (the policies use `auto`)")
    parser.add_argument("--lgbm-refit-every", type=int, default=LGBM_REFIT_EVERY,
                        help=f"weeks between LightGBM refits (default {LGBM_REFIT_EVERY})")
    parser.add_argument("--seeds", default="3",
                        help="generator seeds of the `generated` dataset, comma-separated")
    parser.add_argument("--supply", choices=("demand", "flat", "both"), default="both",
                        help="central supply modes to replay (both adds the backorder view)")
    parser.add_argument("--frontier", action="store_true",
                        help="sweep each policy's service knob and plot the frontiers")
    args = parser.parse_args()
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    names = ("walmart", "generated", "demo") if args.dataset == "all" else (args.dataset,)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    for name in names:
        for seed in (seeds if name == "generated" else [3]):
            run(name, models, seed, args.lgbm_refit_every, args.supply, args.frontier)


if __name__ == "__main__":
    main()
