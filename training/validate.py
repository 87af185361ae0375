"""`python -m training.validate --data DIR [--freq W]`: check a data folder's contract.

MLproject's `validate` entry point: prints the report; exits 2 when any row was refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.validation import validate_folder

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.validate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data folder")
    parser.add_argument("--freq", default=None, help="W, D, MS or W-MON... (default: inferred)")
    args = parser.parse_args(argv)
    try:
        report = validate_folder(args.data, freq=args.freq or None)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f"validate: {exc}")
    print(report.format(max_print=20))
    if not report.ok:
        sys.exit(2)


if __name__ == "__main__":
    main()
