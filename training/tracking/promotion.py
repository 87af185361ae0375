"""Promotion: the challenger becomes `champion` only when it is better on the same windows.

`promote_stage` compares the challenger's recorded backtest WRMSSE with the champion's (its
recipe backtested again on the challenger's windows when they differ), records the decision
on the version (`training.tracking.registry`) and in a `promote` run.
"""

from __future__ import annotations

from dataclasses import replace

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from features.config import TrainConfig
from models.zoo import primary_model
from training.engine.loading import load_data
from training.tracking.registry import (
    CHALLENGER,
    CHAMPION,
    Decision,
    alias_version,
    client_for,
    decide,
    record_decision,
    same_windows,
)
from training.tracking.runs import open_run
from training.tracking.settings import StoreSettings
from training.tracking.stages import backtest_scores, fingerprint

__all__ = ["promote_stage"]


def promote_stage(*, store: StoreSettings, version: str | None = None, force: bool = False,
                  why: str = "", by: str = "unknown") -> Decision:
    """Make `version` (default: the `challenger`) the champion if it is better on the same
    backtest windows (or `force`); record the decision on the version.

    Raises:
        LookupError: no such version, or no challenger.
    """
    client = client_for(store.tracking_uri)
    name = store.model_name
    challenger = (client.get_model_version(name, version) if version
                  else alias_version(client, name, CHALLENGER))
    if challenger is None:
        raise LookupError(f"model {name!r} has no `{CHALLENGER}` alias: run `train` first, or "
                          "pass `--version`.")
    champion = alias_version(client, name, CHAMPION)
    score = float(challenger.tags["backtest.wrmsse"])
    ours, theirs = str(challenger.version), None if champion is None else str(champion.version)
    if ours == theirs:
        return Decision(promote=False, reason=f"v{ours} is already the champion",
                        challenger=ours, champion=theirs, challenger_score=score,
                        champion_score=score)
    champion_score, rescored = (None, False) if champion is None else _champion_score(
        challenger, champion, rescore=not force)
    decision = decide(ours, score, champion=theirs, champion_score=champion_score,
                      force=force, why=why)
    if rescored:
        decision = replace(decision, reason=f"{decision.reason} (champion backtested again "
                                            "on the challenger's windows)")
    record_decision(client, name=name, decision=decision, by=by)
    with open_run(store, run_name="promote"):
        mlflow.set_tags({**decision.tags(), "promotion.by": by,
                         "promotion.version": decision.challenger})
    return decision


def _champion_score(challenger: ModelVersion, champion: ModelVersion, *, rescore: bool
                    ) -> tuple[float | None, bool]:
    """The champion's WRMSSE on the challenger's windows, and whether it was computed now:
    its recorded score when both were backtested on the same data and cutoffs, else its
    recipe backtested again on them (or None when `rescore` is off)."""
    if same_windows(challenger, champion):
        return float(champion.tags["backtest.wrmsse"]), False
    if not rescore:
        return None, False
    chal_cfg = TrainConfig.from_json(challenger.tags["train_config"])
    recipe = replace(TrainConfig.from_json(champion.tags["train_config"]),
                     data=chal_cfg.data, freq=chal_cfg.freq, horizon=chal_cfg.horizon,
                     windows=chal_cfg.windows, step=chal_cfg.step, warmup=chal_cfg.warmup,
                     outside_span=chal_cfg.outside_span, engine="local")
    data = load_data(recipe)
    sha = fingerprint(recipe, data)["data.sha256"]
    if sha != challenger.tags.get("data.sha256"):
        raise LookupError(f"{recipe.data} changed since v{challenger.version} was trained "
                          f"(data.sha256 {sha} != {challenger.tags.get('data.sha256')}); "
                          "retrain the challenger or use `--force`.")
    cutoffs = [pd.Timestamp(c) for c in challenger.tags["backtest.cutoffs"].split(",")]
    _, scores = backtest_scores(recipe, data, cutoffs=cutoffs)
    return scores.score(primary_model(recipe.models)), True
