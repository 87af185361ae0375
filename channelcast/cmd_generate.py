"""`channelcast generate`: write a seeded, realistic synthetic channel data folder."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from features.config import GENERATOR
from features.synthetic import ChannelData, generate_channel_data, summarize, write_channel_data
from features.synthetic.anomalies import InjectionPlan, inject_anomalies, restate_inventory

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `generate` sub-command."""
    parser = sub.add_parser(
        "generate",
        help="write synthetic sell-through, nodes, inventory and central stock",
        description="Generate a contract-conforming data folder of a synthetic sales channel "
                    "(seasonality, holidays, promotions, price changes, launches, "
                    "intermittent items and stock-outs), plus the uncensored truth.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--nodes", type=int, default=GENERATOR.nodes,
                        help="number of selling nodes (dealers, stores, web shops); "
                             f"default {GENERATOR.nodes}")
    parser.add_argument("--skus", type=int, default=GENERATOR.skus,
                        help=f"number of items; default {GENERATOR.skus}")
    parser.add_argument("--periods", type=int, default=GENERATOR.periods,
                        help=f"number of periods of history; default {GENERATOR.periods}")
    parser.add_argument("--freq", default=GENERATOR.freq, choices=["W", "D"],
                        help="W = weekly (on the weekday of --start), D = daily; "
                             f"default {GENERATOR.freq}")
    parser.add_argument("--seed", type=int, default=GENERATOR.seed,
                        help=f"random seed; default {GENERATOR.seed}")
    parser.add_argument("--start", default=GENERATOR.start,
                        help=f"ISO date of the first period; default {GENERATOR.start} (a Monday)")
    parser.add_argument("--format", dest="fmt", default="csv", choices=["csv", "parquet"],
                        help="file format of sell_through; default csv")
    parser.add_argument("--anomalies", action="store_true",
                        help="inject labelled anomalies of every kind (demand drops and spikes, "
                             "stuffing, stock-balance breaks, silent nodes) in the last 40 "
                             "periods; the labels go to anomalies.csv beside the data")
    parser.set_defaults(handler=run)


def _with_anomalies(data: ChannelData, out: Path, seed: int) -> tuple[ChannelData, int]:
    """The data with injected anomalies; writes their labels to out/anomalies.csv."""
    series = data.sell_through.groupby(["node_id", "sku"]).ngroups
    selling = data.sell_through["node_id"].nunique()
    periods = data.sell_through["date"].nunique()
    per = max(1, series // 200)
    plan = InjectionPlan(window=min(40, max(periods - 20, 1)), drops=per, spikes=per,
                         mismatches=per, stuffed_nodes=max(1, selling // 10),
                         silent_nodes=max(1, selling // 10), min_units=1.0)
    sell_through, labels = inject_anomalies(data.sell_through, seed=seed, plan=plan)
    out.mkdir(parents=True, exist_ok=True)
    labels.to_csv(out / "anomalies.csv", index=False, date_format="%Y-%m-%d")
    inventory = restate_inventory(data.inventory, sell_through)  # the snapshot agrees
    return dataclasses.replace(data, sell_through=sell_through, inventory=inventory), len(labels)


def run(args: argparse.Namespace) -> int:
    """Generate and write the data; print a short summary. Returns 0, or 2 on bad input."""
    began = time.perf_counter()
    try:
        data = generate_channel_data(nodes=args.nodes, skus=args.skus, periods=args.periods,
                                     freq=args.freq, seed=args.seed, start=args.start)
        injected = 0
        if getattr(args, "anomalies", False):
            data, injected = _with_anomalies(data, args.out, args.seed)
        paths = write_channel_data(data, args.out, fmt=args.fmt)
    except ValueError as err:
        print(f"channelcast generate: error: {err}", file=sys.stderr)
        return 2
    facts = summarize(data)
    channels = ", ".join(f"{name} {count}" for name, count in facts["nodes_by_channel"].items())
    print(f"rows {facts['rows']:,} | series {facts['series']:,} | periods {facts['periods']} "
          f"({args.freq}) | nodes: {channels}")
    print(f"zero share {facts['zero_share']:.1%} | stock-out share {facts['stockout_share']:.1%} "
          f"| promo share {facts['promo_share']:.1%} | lost demand {facts['lost_share']:.1%}")
    if injected:
        print(f"injected {injected} labelled anomalies: {args.out / 'anomalies.csv'} "
              "(kind,node_id,sku,onset,end,magnitude)")
    print(f"wrote {len(paths)} files to {args.out} in {time.perf_counter() - began:.1f} s")
    return 0
