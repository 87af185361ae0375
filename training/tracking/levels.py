"""What a tracked run records of the per-level backtest (issue 23): WRMSSE and coverage of
every reconciliation method at every level, their M5 average and the chosen default.

Metric names: `levels/wrmsse_m5/<method>`, `levels/<metric>/<method>/<level>/<skus>` with
`skus` one of `sku`, `group`, `all` (MLflow refuses `*` in a name); tag `reconcile.default`;
artifacts `levels/scores.csv`, `levels/summary.csv`, `levels/predictions.parquet`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np

from models.hierarchy import ALL_SKUS
from training.engine.hierarchy import METHOD, SKUS, LevelBacktest

__all__ = ["LEVEL_METRICS", "level_metrics", "log_levels"]

LEVEL_METRICS = ("wrmsse", "scaled_pinball", "coverage", "coverage95", "wape")


def level_metrics(levels: LevelBacktest) -> dict[str, float]:
    """The run metrics of a per-level backtest (module doc)."""
    out = {f"levels/wrmsse_m5/{row[METHOD]}": float(row["wrmsse_m5"])
           for _, row in levels.summary.iterrows()}
    for _, row in levels.scores.iterrows():
        skus = "all" if row[SKUS] == ALL_SKUS else row[SKUS]
        for metric in LEVEL_METRICS:
            if metric in row:
                out[f"levels/{metric}/{row[METHOD]}/{row['level']}/{skus}"] = float(row[metric])
    return {k: v for k, v in out.items() if np.isfinite(v)}


def log_levels(levels: LevelBacktest, *, default: str) -> None:
    """Log the per-level backtest into the active run; `default`: the served method."""
    mlflow.log_metrics(level_metrics(levels))
    mlflow.set_tags({"reconcile.default": default,
                     "reconcile.winner": str(levels.winner),
                     "levels.series": str(levels.hierarchy.n_all)})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        levels.scores.to_csv(folder / "scores.csv", index=False)
        levels.summary.to_csv(folder / "summary.csv", index=False)
        levels.predictions.to_parquet(folder / "predictions.parquet", index=False)
        mlflow.log_artifacts(str(folder), artifact_path="levels")
