"""`channelcast generate`: write a seeded, realistic synthetic channel data folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from features.config import GENERATOR
from features.synthetic import generate_channel_data, summarize, write_channel_data

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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the data; print a short summary. Returns 0, or 2 on bad input."""
    began = time.perf_counter()
    try:
        data = generate_channel_data(nodes=args.nodes, skus=args.skus, periods=args.periods,
                                     freq=args.freq, seed=args.seed, start=args.start)
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
    print(f"wrote {len(paths)} files to {args.out} in {time.perf_counter() - began:.1f} s")
    return 0
