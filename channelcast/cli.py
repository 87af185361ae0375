"""The `channelcast` command: one entry point, one sub-command per job."""

from __future__ import annotations

import argparse
import sys

from channelcast import (
    cmd_backtest,
    cmd_decisions,
    cmd_demo,
    cmd_features,
    cmd_generate,
    cmd_keys,
    cmd_monitor,
    cmd_policy,
    cmd_report,
    cmd_serve,
    cmd_train,
    cmd_validate,
)
from channelcast.args import add_quiet_argument

__all__ = ["main"]

_COMMANDS = (cmd_generate, cmd_validate, cmd_features, cmd_backtest, cmd_train, cmd_decisions,
             cmd_policy, cmd_monitor, cmd_report, cmd_demo, cmd_serve, cmd_keys)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="channelcast",
        description="Demand forecasting and stock allocation for a sales channel.",
    )
    add_quiet_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMANDS:
        module.add_parser(sub)
    for command in sub.choices.values():  # `channelcast backtest ... --quiet` works too
        add_quiet_argument(command, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command and return its exit code (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
