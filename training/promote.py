"""`python -m training.promote [--version N] [--force] [--reason TEXT]`: move `champion`.

The challenger (or `--version`) becomes champion only if its backtest WRMSSE beats the
champion's on the same windows, or if `--force` is given; the decision, who made it and
why are written into the version's tags and description (and into a `promote` run).
Exit code 0 whether promoted or refused (a refusal is an answer, not a failure), unless
`--strict`: then 3 when refused, so a pipeline can stop; 2 on bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from mlflow.exceptions import MlflowException

from features.errors import DataContractError
from training.settings import store_settings
from training.stages import promote_stage

__all__ = ["main"]


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"takes true or false; got {text!r}")
    return value in ("true", "1", "yes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.promote",
                                     description=promote_stage.__doc__)
    parser.add_argument("--version", default="", help="version to promote (default: the "
                        "`challenger` alias)")
    parser.add_argument("--force", type=_flag, nargs="?", const=True, default=False,
                        help="promote even if not better (recorded on the version)")
    parser.add_argument("--reason", default="", help="why (recorded; expected with --force)")
    parser.add_argument("--strict", type=_flag, nargs="?", const=True, default=False,
                        help="exit with code 3 when the challenger is refused")
    args = parser.parse_args(argv)
    try:
        decision = promote_stage(store=store_settings(os.environ), version=args.version or None,
                                 force=args.force, why=args.reason, by=getpass.getuser())
    except (LookupError, MlflowException, DataContractError, OSError, ValueError) as exc:
        print(f"promote: {exc}", file=sys.stderr)
        sys.exit(2)
    verdict = "promoted to champion" if decision.promote else "NOT promoted"
    print(f"v{decision.challenger} {verdict}: {decision.reason}")
    if args.strict and not decision.promote:
        sys.exit(3)


if __name__ == "__main__":
    main()
