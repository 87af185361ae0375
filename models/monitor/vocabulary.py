"""The monitor's vocabulary: alert kinds, severities and the alert table's columns."""

from __future__ import annotations

from typing import Final, Literal, get_args

AlertKind = Literal["demand_drop", "demand_spike", "channel_stuffing", "stock_mismatch",
                    "reporting_gap"]
Severity = Literal["critical", "high", "medium", "low"]
AlertStatus = Literal["open", "acknowledged", "closed"]

KINDS: Final[tuple[str, ...]] = get_args(AlertKind)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
STATUSES: Final[tuple[str, ...]] = get_args(AlertStatus)
NODE_LEVEL_KINDS: Final[frozenset[str]] = frozenset({"channel_stuffing", "reporting_gap"})

ALERT_COLUMNS: Final[tuple[str, ...]] = (
    "alert_id", "kind", "severity", "node_id", "sku", "period_start", "period_end",
    "score", "expected", "observed", "message",
)
"""Columns of every alert table (CLI CSV, API, database); `sku` is "" for node-level kinds."""
