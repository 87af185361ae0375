"""Accuracy on real data: channelcast's models vs the protocol's peers, same harness.

Usage:
    .venv/bin/python benchmarks/accuracy.py [--dataset walmart|carparts|all] [--models ...]

Runs channelcast's rolling-origin backtest (training.engine.backtest) on walmart_store_dept and
carparts exactly as BENCHMARKS.md's "Evaluation protocol" says, reuses (or computes) the peers'
predictions of benchmarks/peers.py, and prints one table per dataset: WAPE, WRMSSE, MASE,
scaled pinball, 80% coverage, bias and wall seconds, with our `auto` against the strongest
peer on each metric (the median ensemble of peers.py counts as a peer) and issue 19's goals.
Skips with a message when ../shared/data is absent.

`--levels` also scores every level of the channel tree (issue 23: the aggregate series
backtested with the same models at the same cutoffs, reconciled at each window by every
method; training.engine.hierarchy.backtest_levels): WRMSSE per level x sku kind and method,
the M5 average, coverage of the 80% and 95% intervals, the default method, and seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

from benchmarks.peers import DATA, PROTOCOLS, peer_names, run_dataset  # noqa: E402
from benchmarks.peers import OUT as PEERS_OUT  # noqa: E402
from features.config import BacktestConfig  # noqa: E402
from training.engine.backtest import BacktestResult, run_backtest  # noqa: E402
from training.engine.hierarchy import LEVEL_QUANTILES, backtest_levels  # noqa: E402
from training.engine.metrics import evaluate, format_table  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "accuracy"
OURS = ("lgbm", "ets", "snaive", "croston", "tsb", "ma", "auto")
# issue 19: least gain of `auto` over the strongest peer per metric (0 = lower, any margin)
GOALS = {"walmart": {"wrmsse": 0.05, "scaled_pinball": 0.05},
         "carparts": {"wrmsse": 0.0, "scaled_pinball": 0.05}}
COVERAGE_TOLERANCE = 0.02


def _ours(dataset: str, models: tuple[str, ...], *, levels: bool = False) -> pd.DataFrame:
    proto = PROTOCOLS[dataset]
    data = proto.load(DATA / proto.folder)
    config = BacktestConfig(horizon=proto.horizon, windows=proto.windows, step=proto.step,
                            season=proto.season, models=models)
    if levels:  # the levels' 95% intervals need these of the bottom series too
        config = replace(config, quantiles=LEVEL_QUANTILES)
    start = time.perf_counter()
    result = run_backtest(data.sell_through, freq=data.freq, config=config, nodes=data.nodes)
    wall = time.perf_counter() - start
    OUT.mkdir(parents=True, exist_ok=True)
    result.predictions.to_parquet(OUT / f"{dataset}.parquet", index=False)
    table = evaluate(result.predictions, data.sell_through, freq=data.freq, by=["model"],
                     outside_span=proto.outside_span)
    table["seconds"] = table["model"].map(result.seconds).round(1)
    table["model"] = "channelcast " + table["model"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"{dataset}: channelcast backtest of {len(models)} models in {wall:.0f} s "
          f"(all windows incl. {config.warmup} warm-up), peak RSS so far {peak:.2f} GiB")
    if result.choices is not None:  # auto's combination per demand class, last cutoff
        last = result.choices[result.choices["cutoff"] == result.choices["cutoff"].max()]
        classes = result.windows[-1].classes
        for cls in sorted(set(classes)):
            names = last["chosen"].to_numpy()[classes == cls]
            print(f"  auto, {cls} ({len(names)} series): {names[0]}")
    if levels:
        _levels(dataset, data, result, config)
    return table


def _levels(dataset: str, data: Any, result: BacktestResult, config: BacktestConfig) -> None:
    """Per-level scores of the backtest `result` (module doc), printed and written."""
    start = time.perf_counter()
    levels = backtest_levels(result, data.sell_through, nodes=data.nodes, config=config,
                             outside_span=PROTOCOLS[dataset].outside_span)
    wall = time.perf_counter() - start
    n = levels.hierarchy
    print(f"{dataset}: levels: {n.n_all:,} series ({n.n_bottom:,} bottom), aggregate "
          f"backtest + reconciliation of {config.windows} windows in {wall:.0f} s")
    wide = levels.scores.pivot_table(index=["level", "skus"], columns="method",
                                     values="wrmsse")
    print(wide.to_string(float_format=lambda v: f"{v:.4f}"))
    print(format_table(levels.summary, digits=4))
    print(f"default --reconcile (lowest wrmsse_m5 of the coherent methods within 1% of none "
          f"on the bottom series): {levels.winner}")
    levels.scores.to_csv(OUT / f"{dataset}.levels.csv", index=False)


def _verdict(dataset: str, table: pd.DataFrame) -> str:
    """`auto` against the strongest peer on each goal metric, and its 80% coverage."""
    auto = table.loc[table["model"] == "channelcast auto"].iloc[0]
    peers = table[~table["model"].str.startswith("channelcast")]
    lines = []
    for metric, margin in GOALS[dataset].items():
        best = peers.loc[peers[metric].idxmin()]
        gain = 1 - auto[metric] / best[metric]
        ok = "MET" if gain > 0 and gain >= margin else "NOT MET"
        goal = f">= {margin:.0%} better" if margin else "lower"
        lines.append(f"{metric} {ok}: auto {auto[metric]:.4f} vs strongest peer {best['model']} "
                     f"{best[metric]:.4f} ({gain:+.1%} better; goal {goal})")
    ok = "MET" if abs(auto["coverage"] - 0.8) <= COVERAGE_TOLERANCE else "NOT MET"
    lines.append(f"coverage {ok}: auto {auto['coverage']:.3f} (goal 0.80 +- "
                 f"{COVERAGE_TOLERANCE})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*PROTOCOLS, "all"], default="all")
    parser.add_argument("--models", default=",".join(OURS))
    parser.add_argument("--no-peers", action="store_true", help="only channelcast's models")
    parser.add_argument("--run-peers", action="store_true", help="also run peers that are "
                        "not cached yet (AutoETS on walmart takes 10+ minutes)")
    parser.add_argument("--levels", action="store_true", help="also score every level of "
                        "the channel tree, reconciled by every method (issue 23)")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is absent; the accuracy benchmark needs the shared datasets.")
        return
    datasets = list(PROTOCOLS) if args.dataset == "all" else [args.dataset]
    for dataset in datasets:
        ours = _ours(dataset, tuple(args.models.split(",")), levels=args.levels)
        tables = [ours]
        if not args.no_peers:
            names = [p for p in peer_names()
                     if args.run_peers or (PEERS_OUT / dataset / f"{p}.parquet").exists()]
            skipped = sorted(set(peer_names()) - set(names))
            if skipped:
                print(f"peers not cached, not run (use --run-peers): {', '.join(skipped)}")
            peers = run_dataset(dataset, names, force=False)
            tables.append(peers.assign(model="peer " + peers["model"]))
        table = pd.concat(tables, ignore_index=True).sort_values("wrmsse")
        print(f"\n{dataset} (h={PROTOCOLS[dataset].horizon}, windows "
              f"{PROTOCOLS[dataset].windows}, step {PROTOCOLS[dataset].step})")
        print(format_table(table.drop(columns=["n_unscored"], errors="ignore")))
        if not args.no_peers:
            print(_verdict(dataset, table.assign(model=table["model"].str.replace(
                "peer ", "", regex=False))))
        print(flush=True)


if __name__ == "__main__":
    main()
