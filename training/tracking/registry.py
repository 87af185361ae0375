"""Registered versions of `channelcast-demand`, the `challenger` and `champion` aliases.

`train` registers every trained model as a new version with alias `challenger` and tags
that say how it scored (`backtest.wrmsse`) on which windows (`backtest.cutoffs`, the data's
`data.sha256`). `promote` moves `champion` only when the challenger's WRMSSE beats the
champion's on the same windows (`decide`), or when a person forces it; every decision is
written into the version's tags and description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

__all__ = ["CHALLENGER", "CHAMPION", "Decision", "alias_version", "client_for", "decide",
           "record_decision", "register_challenger", "same_windows"]

CHALLENGER, CHAMPION = "challenger", "champion"
#: Relative WRMSSE difference below which two scores tie (float noise, rounded tags).
TIE = 1e-5
_WINDOW_TAGS = ("backtest.cutoffs", "backtest.windows", "backtest.horizon", "data.sha256",
                "backtest.outside_span")


@dataclass(frozen=True)
class Decision:
    """The outcome of a promotion request, as recorded on the challenger version."""

    promote: bool
    reason: str
    challenger: str
    champion: str | None
    challenger_score: float
    champion_score: float | None
    forced: bool = False

    def tags(self) -> dict[str, str]:
        return {
            "promotion.decision": "promoted" if self.promote else "refused",
            "promotion.reason": self.reason,
            "promotion.compared_with": self.champion or "none",
            "promotion.challenger_wrmsse": f"{self.challenger_score:.6g}",
            "promotion.champion_wrmsse": ("" if self.champion_score is None
                                          else f"{self.champion_score:.6g}"),
            "promotion.forced": str(self.forced).lower(),
        }


def decide(challenger: str, score: float, *, champion: str | None = None,
           champion_score: float | None = None, force: bool = False, why: str = ""
           ) -> Decision:
    """Promote when there is no champion or `score` (WRMSSE, lower is better) is lower than
    `champion_score` by more than `TIE` (relative); `force` promotes anyway and says so."""
    def made(promote: bool, reason: str, forced: bool = False) -> Decision:
        return Decision(promote=promote, reason=reason, challenger=challenger,
                        champion=champion, challenger_score=score,
                        champion_score=champion_score, forced=forced)

    if champion is None:
        return made(True, f"no champion yet; WRMSSE {score:.4f}")
    theirs = "not compared" if champion_score is None else f"{champion_score:.4f}"
    versus = f"WRMSSE {score:.4f} vs champion v{champion}'s {theirs}"
    if force:
        return made(True, f"forced ({versus})" + (f": {why}" if why else ""), forced=True)
    if champion_score is None:
        raise ValueError("`champion_score` is needed to compare with a champion (or `force`).")
    if score < champion_score and not math.isclose(score, champion_score, rel_tol=TIE):
        return made(True, f"better on the same windows: {versus}")
    return made(False, f"not better on the same windows: {versus}")


def same_windows(a: ModelVersion, b: ModelVersion) -> bool:
    """Were both versions backtested on the same data, cutoffs and horizon?"""
    return all(a.tags.get(t) is not None and a.tags.get(t) == b.tags.get(t)
               for t in _WINDOW_TAGS)


def register_challenger(client: MlflowClient, *, name: str, model_uri: str, run_id: str,
                        tags: dict[str, str], description: str) -> ModelVersion:
    """Register `model_uri` as a new version of `name` and point `challenger` at it."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="Demand forecasts per node and sku (channelcast). Aliases: "
                              "`champion` serves, `challenger` is the latest trained.")
    version = client.create_model_version(name, source=model_uri, run_id=run_id, tags=tags,
                                          description=description)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return client.get_model_version(name, version.version)


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version `alias` points at, or None when the alias (or the model) does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def record_decision(client: MlflowClient, *, name: str, decision: Decision, by: str) -> None:
    """Write `decision` on the challenger version; move `champion` if it promotes."""
    version = decision.challenger
    for key, value in {**decision.tags(), "promotion.by": by}.items():
        client.set_model_version_tag(name, version, key, value)
    current = client.get_model_version(name, version).description or ""
    verdict = "Promoted to champion" if decision.promote else "Not promoted"
    line = f"{verdict} by {by}: {decision.reason}."
    client.update_model_version(name, version, description=f"{current}\n\n{line}".strip())
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
        if decision.champion is not None:
            client.set_model_version_tag(name, decision.champion, "promotion.replaced_by",
                                         version)


def client_for(tracking_uri: str) -> MlflowClient:
    """A client bound to `tracking_uri` (tracking and registry)."""
    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
