"""`python -m training.train --data DIR ...`: backtest, fit, log and register a challenger.

MLproject's `train` entry point. Settings (tracking URI, `mlflow run`'s run id) are read
from the environment here and nowhere else.
"""

from __future__ import annotations

import argparse
import os
import sys

from features.errors import DataContractError
from training.config import add_train_arguments, config_from_args
from training.progress import add_quiet_argument
from training.settings import git_commit, store_settings
from training.stages import preload, train_stage

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.train",
                                     description=train_stage.__doc__)
    add_train_arguments(parser)
    add_quiet_argument(parser)
    args = parser.parse_args(argv)
    store = store_settings(os.environ)
    try:
        cfg = config_from_args(args)
        outcome = train_stage(cfg, store=store, commit=git_commit(),
                              data=preload(cfg, rejects=args.rejects),
                              progress=not args.quiet)
    except (DataContractError, FileNotFoundError, ValueError) as exc:
        sys.exit(f"train: {exc}")
    version = outcome.version.version if outcome.version else "?"
    scores = outcome.scores.by_model[["model", "wape", "wrmsse", "scaled_pinball", "coverage"]]
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"run {outcome.run_id}: registered {store.model_name} v{version} as `challenger` "
          f"in {store.tracking_uri}; next: python -m training.promote")


if __name__ == "__main__":
    main()
