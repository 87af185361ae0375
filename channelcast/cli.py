"""The `channelcast` command: one entry point, one sub-command per job.

Only the module of the sub-command being run is imported (the others pull in LightGBM, MLflow,
Dask, WeasyPrint...): `channelcast --help` lists every command from `COMMANDS` alone, and
tests/channelcast/test_cli.py checks that table against what each module registers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from channelcast.quiet import add_quiet_argument

__all__ = ["COMMANDS", "build_parser", "main"]

# sub-command -> (module that registers it, the one-line help it registers)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("cmd_generate", "write synthetic sell-through, nodes, inventory and central "
                 "stock"),
    "validate": ("cmd_validate", "check a data folder against the data contract"),
    "ingest": ("cmd_validate", "validate a data folder and load it into a DuckDB file"),
    "features": ("cmd_features", "build the direct multi-horizon training set"),
    "convert": ("cmd_features", "map a public dataset (walmart, carparts) to the contract"),
    "backtest": ("cmd_backtest", "rolling-origin backtest of every model, with metrics"),
    "forecast": ("cmd_backtest", "forecast every series: fit on --data, or with a registered "
                 "model"),
    "train": ("cmd_train", "backtest, fit on all history, register a challenger"),
    "promote": ("cmd_train", "make the challenger champion if it is better"),
    "allocate": ("cmd_decisions", "split an sku's central stock across nodes, explained"),
    "risk": ("cmd_decisions", "stock-out and excess risk per node x sku, ranked"),
    "policy-backtest": ("cmd_policy", "replay history under scarce supply with each "
                        "allocation policy"),
    "monitor": ("cmd_monitor", "replay the channel monitor and write every alert raised"),
    "health": ("cmd_monitor", "write the channel health index of one month"),
    "report": ("cmd_report", "write the monthly channel report (HTML, optionally PDF)"),
    "demo": ("cmd_demo", "run the whole job on generated data and summarise it"),
    "serve": ("cmd_serve", "start the HTTP service (forecasts, allocations, risk)"),
    "keys": ("cmd_keys", "create, list and revoke the service's API keys"),
}


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    """The command modules to import: the one of the sub-command in `argv` (none when it
    names no known command: the stubs are enough for help and errors), all without argv."""
    if argv is None:
        return list(dict.fromkeys(module for module, _ in COMMANDS.values()))
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return [COMMANDS[command][0]] if command in COMMANDS else []


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every sub-command registered by its module (all of them without
    `argv`; with `argv` only the one it runs, the others as help-only stubs)."""
    parser = argparse.ArgumentParser(
        prog="channelcast",
        description="Demand forecasting and stock allocation for a sales channel.",
    )
    add_quiet_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _modules_for(argv):
        importlib.import_module(f"channelcast.{name}").add_parser(sub)
    for command, (_, text) in COMMANDS.items():
        if command not in sub.choices:
            sub.add_parser(command, help=text)
    for registered in sub.choices.values():  # `channelcast backtest ... --quiet` works too
        add_quiet_argument(registered, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command and return its exit code (0 ok, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
