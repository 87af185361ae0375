"""Request bodies and detection stubs shared by the service tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

import serving.monitor
from models.monitor.vocabulary import ALERT_COLUMNS
from tests.serving.conftest import Workspace


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Sell-through rows as JSON records (dates as text, missing values left out)."""
    out = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_dict("records")
    return [{k: v for k, v in r.items() if not pd.isna(v)} for r in out]


def inventory_rows(workspace: Workspace) -> list[dict[str, Any]]:
    """The workspace's inventory snapshot as JSON records."""
    inv = workspace.inventory.assign(as_of="2024-02-20")
    return [{k: (float(v) if k in ("on_hand", "in_transit", "min_qty", "max_qty") else v)
             for k, v in r.items() if not pd.isna(v)} for r in inv.to_dict("records")]


def alert_row(kind: str, node: str, sku: str, start: pd.Timestamp, end: pd.Timestamp,
              severity: str = "high") -> dict[str, object]:
    """One detected alert as detection returns it (score, expected and observed fixed)."""
    return {"kind": kind, "severity": severity, "node_id": node, "sku": sku,
            "period_start": start, "period_end": end, "score": 0.99, "expected": 10.0,
            "observed": 2.0, "message": f"{kind} at {node} {sku}: saw 2, expected 10"}


def script_detection(monkeypatch: pytest.MonkeyPatch, by_period: dict[date, list[dict[str, object]]]
                     ) -> list[tuple[date, pd.DataFrame]]:
    """Make detection answer `by_period[as_of]`; returns the calls (as_of, sell_through)."""
    calls: list[tuple[date, pd.DataFrame]] = []

    def detect(sell_through: pd.DataFrame, _nodes: pd.DataFrame, *, as_of: date,
               **_config: object) -> pd.DataFrame:
        calls.append((as_of, sell_through))
        return pd.DataFrame(by_period.get(as_of, []), columns=list(ALERT_COLUMNS[1:])
                            ).assign(channel="")

    monkeypatch.setattr(serving.monitor, "detect_alerts", detect)
    return calls
