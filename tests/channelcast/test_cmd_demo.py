"""`channelcast demo` end to end on tiny generated data: it ends with the decisions."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from channelcast.cli import main


def test_demo_ends_with_one_allocation_and_the_top_risks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    saved = mlflow.get_tracking_uri()
    try:
        code = main(["demo", "--out", str(tmp_path / "data"), "--nodes", "4", "--skus", "5",
                     "--periods", "60", "--horizon", "4", "--models", "ma,tsb,auto",
                     "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    finally:
        mlflow.set_tracking_uri(saved)
    text = capsys.readouterr().out
    assert code == 0, text
    levels = text[text.index("every level of the channel tree"):text.index("[7] decide")]
    rows = [line.split()[0] for line in levels.splitlines()[2:] if line.strip()]
    assert {"total", "parent"} <= set(rows) and "reconciled with" in levels
    decisions = text[text.index("[7] decide"):]
    assert "allocation of " in decisions and "units allocated" in decisions
    assert "bound" in decisions
    assert "stock risk, top 10" in decisions and "risk_class" in decisions
    monitor = text[text.index("[8] monitor"):]
    assert "alerts since" in monitor and "health index" in monitor
