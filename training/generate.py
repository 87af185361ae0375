"""`python -m training.generate --out DIR ...`: write a seeded synthetic channel data folder.

MLproject's `generate` entry point (same generator as `channelcast generate`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.config import GENERATOR
from features.synthetic import generate_channel_data, summarize, write_channel_data

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.generate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--nodes", type=int, default=GENERATOR.nodes, help="selling nodes")
    parser.add_argument("--skus", type=int, default=GENERATOR.skus, help="items")
    parser.add_argument("--periods", type=int, default=GENERATOR.periods, help="periods of history")
    parser.add_argument("--freq", choices=("W", "D"), default=GENERATOR.freq, help="W or D")
    parser.add_argument("--seed", type=int, default=GENERATOR.seed, help="random seed")
    args = parser.parse_args(argv)
    try:
        data = generate_channel_data(nodes=args.nodes, skus=args.skus, periods=args.periods,
                                     freq=args.freq, seed=args.seed)
        paths = write_channel_data(data, args.out)
    except ValueError as exc:
        sys.exit(f"generate: {exc}")
    facts = summarize(data)
    print(f"{facts['rows']:,} rows, {facts['series']:,} series, {facts['periods']} periods "
          f"-> {', '.join(str(p) for p in paths)}")


if __name__ == "__main__":
    main()
