"""Anomaly alerts: detection at one period, the open/extend/close lifecycle, and the replay.

`detect_alerts` answers "which alerts does period `as_of` raise?" from rows dated up to
`as_of` only. `update_alerts` merges those detections into the open alerts (one open alert
per kind x node_id x sku: extended while detected, closed when not). `replay` runs both for
every period from `since` to the end as it would have run then (`channelcast monitor`).

Scores are the detector's score over its medium threshold: 1 or more is medium or worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features.schema import CHANNEL, ITEM, NODE
from models.monitor.channel import (
    NodeFlow,
    gap_signal,
    mismatch_signal,
    node_flow,
    stuffing_signal,
)
from models.monitor.config import MonitorConfig
from models.monitor.demand import (
    demand_expectation,
    drop_signal,
    peer_spike_signal,
    spike_signal,
)
from models.monitor.messages import alert_message
from models.monitor.panel import Panel, build_panel
from models.monitor.signal import Signal, severity_at, thresholds_at
from models.monitor.vocabulary import ALERT_COLUMNS

__all__ = ["AlertChanges", "Grid", "MonitorConfig", "alert_key", "detect_alerts",
           "detector_signals", "has_stock", "node_signals", "pooled_signals", "replay",
           "replay_signals", "series_signals", "update_alerts"]

DETECTED_COLUMNS = (*ALERT_COLUMNS[1:], CHANNEL)
"""Columns of `detect_alerts` (ALERT_COLUMNS without alert_id, plus the node's channel)."""
KEY = ["kind", NODE, ITEM]


@dataclass(frozen=True)
class AlertChanges:
    """What one period did to the open alerts.

    Attributes:
        opened: new alerts (with alert_id and status "open").
        extended: open alerts detected again (period_end, score, severity, ... updated).
        closed: open alerts not detected any more (status "closed", closed_on = as_of).
    """

    opened: pd.DataFrame
    extended: pd.DataFrame
    closed: pd.DataFrame


def has_stock(panel: Panel) -> bool:
    """Whether the panel reports on_hand and sell_in (the stock-flow kinds need both)."""
    return bool(np.isfinite(panel.on_hand).any()) and bool(np.isfinite(panel.sell_in).any())


def series_signals(panel: Panel, config: MonitorConfig, *, stock: bool) -> list[Signal]:
    """The per-series detectors (each series on its own: any subset of series works)."""
    exp = demand_expectation(panel, config)
    signals = [drop_signal(panel, exp, config), spike_signal(panel, exp)]
    return [*signals, mismatch_signal(panel, config)] if stock else signals


def node_signals(flow: NodeFlow, config: MonitorConfig, *, stock: bool) -> list[Signal]:
    """The node-level detectors, from the node sums of every series."""
    return [*([stuffing_signal(flow, config)] if stock else []), gap_signal(flow, config)]


def detector_signals(panel: Panel, config: MonitorConfig) -> list[Signal]:
    """Every detector's signal over the panel (stock-flow kinds only with sell_in/on_hand)."""
    stock = has_stock(panel)
    return [*series_signals(panel, config, stock=stock),
            *node_signals(node_flow(panel), config, stock=stock)]


def alert_key(kind: str, node_id: str, sku: str, period_start: pd.Timestamp) -> str:
    """The deterministic id of an alert episode: kind:node:sku:first period."""
    return f"{kind}:{node_id}:{sku}:{pd.Timestamp(period_start):%Y-%m-%d}"


@dataclass(frozen=True)
class Grid:
    """What the alert rows name: the series' keys, the nodes and the periods."""

    keys: pd.DataFrame
    node_ids: np.ndarray
    dates: pd.DatetimeIndex


def pooled_signals(grid: Grid | Panel, signals: list[Signal], config: MonitorConfig
                   ) -> list[Signal]:
    """The cross-series step on signals of all series (local, or stacked from a store's
    parts): spikes against the item's movement at the other nodes (`peer_spike_signal`)."""
    items = grid.keys[ITEM].to_numpy().astype(object)
    return [peer_spike_signal(s, items, config) if s.kind == "demand_spike" and not
            s.node_level else s for s in signals]


def _alerts_at(panel: Grid | Panel, signals: list[Signal], t: int, config: MonitorConfig,
               channels: pd.Series) -> pd.DataFrame:
    """The alerts whose evidence ends at period t."""
    parts = []
    for sig in signals:
        thresholds = thresholds_at(sig, t, config)
        column = sig.score[:, t]
        rows = np.flatnonzero(np.nan_to_num(column, nan=-np.inf) >= thresholds[0])
        if rows.size == 0:
            continue
        if sig.node_level:
            node_id, sku = panel.node_ids[rows].astype(str), np.full(rows.size, "")
        else:
            node_id = panel.keys[NODE].to_numpy()[rows].astype(str)
            sku = panel.keys[ITEM].to_numpy()[rows].astype(str)
        part = pd.DataFrame({
            "kind": sig.kind, "severity": severity_at(column[rows], thresholds),
            NODE: node_id, ITEM: sku,
            "period_start": panel.dates[sig.start[rows, t]], "period_end": panel.dates[t],
            "score": np.round(column[rows] / max(thresholds[1], 1e-9), 3),
            "expected": np.round(sig.expected[rows, t], 2),
            "observed": np.round(sig.observed[rows, t], 2),
        })
        extras = {name: values[rows, t] for name, values in sig.extra.items()}
        part["message"] = [alert_message(sig.kind, {**rec, **{k: v[i] for k, v in
                                                             extras.items()}})
                           for i, rec in enumerate(part.to_dict("records"))]
        parts.append(part)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DETECTED_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out[CHANNEL] = out[NODE].map(channels).fillna("").astype(str)
    return out[list(DETECTED_COLUMNS)]


def _channels(nodes: pd.DataFrame) -> pd.Series:
    if CHANNEL not in nodes.columns:
        return pd.Series(dtype=object)
    return nodes.assign(**{NODE: nodes[NODE].astype(str)}).set_index(NODE)[CHANNEL]


def detect_alerts(sell_through: pd.DataFrame, nodes: pd.DataFrame, *,
                  as_of: date | None = None, config: MonitorConfig | None = None
                  ) -> pd.DataFrame:
    """Alerts whose evidence ends at period `as_of` (default: the last), from rows <= as_of.

    Returns:
        One row per alert: ALERT_COLUMNS without alert_id, plus the node's `channel`.
    """
    config = config or MonitorConfig()
    panel = build_panel(sell_through, as_of=as_of)
    if len(panel.dates) == 0:
        return _alerts_at(panel, [], 0, config, _channels(nodes))
    signals = pooled_signals(panel, detector_signals(panel, config), config)
    return _alerts_at(panel, signals, len(panel.dates) - 1, config, _channels(nodes))


def update_alerts(open_alerts: pd.DataFrame, detected: pd.DataFrame, *, as_of: date
                  ) -> AlertChanges:
    """Merge one period's detections into the open alerts (key kind x node_id x sku).

    A detection of an open key extends it (its alert_id, period_start and status are kept,
    the rest is the new detection's); a new key opens an alert whose id is `alert_key`; an
    open alert not detected at `as_of` is closed.
    """
    still = open_alerts
    if "status" in open_alerts.columns:
        still = open_alerts[open_alerts["status"] != "closed"]
    current = detected.copy()
    current[ITEM] = current[ITEM].fillna("").astype(str)
    still = still.assign(**{ITEM: still[ITEM].fillna("").astype(str)})
    if "status" not in still.columns:
        still = still.assign(status="open")
    keys_open = pd.MultiIndex.from_frame(still[KEY].astype(str))
    keys_new = pd.MultiIndex.from_frame(current[KEY].astype(str))
    seen = keys_new.isin(keys_open)
    opened = current.loc[~seen].copy()
    opened.insert(0, "alert_id", [alert_key(k, n, s, p) for k, n, s, p in zip(
        opened["kind"], opened[NODE], opened[ITEM], opened["period_start"], strict=True)])
    opened["status"] = "open"
    keep = [c for c in ("alert_id", "period_start", "status") if c in still.columns]
    extended = current.loc[seen].drop(columns=[c for c in keep if c != "alert_id"],
                                      errors="ignore")
    extended = extended.merge(still[[*KEY, *keep]].astype({NODE: str, "kind": str}), on=KEY,
                              how="left")
    closed = still.loc[~keys_open.isin(keys_new)].copy()
    closed["status"] = "closed"
    closed["closed_on"] = pd.Timestamp(as_of)
    order = ["alert_id", *DETECTED_COLUMNS, "status"]
    return AlertChanges(opened=opened[order].reset_index(drop=True),
                        extended=extended[order].reset_index(drop=True),
                        closed=closed.reset_index(drop=True))


def _record(episodes: dict[str, dict[str, object]], rec: dict[str, object],
            when: pd.Timestamp) -> None:
    """Keep an episode's latest state, when it was first raised and first >= medium."""
    before = episodes.get(str(rec["alert_id"]), {})
    serious = rec["status"] != "closed" and rec["severity"] != "low"
    rec["raised_on"] = before.get("raised_on", when)
    rec["serious_on"] = before.get("serious_on", pd.NaT)
    if serious and pd.isna(rec["serious_on"]):
        rec["serious_on"] = when
    episodes[str(rec["alert_id"])] = rec


def replay(sell_through: pd.DataFrame, nodes: pd.DataFrame, *, since: date | None = None,
           config: MonitorConfig | None = None, until: date | None = None) -> pd.DataFrame:
    """Every alert raised when each period from `since` (default: the last) to `until`
    (default: the end) was the newest, with its alert_id, final status and the period_end
    it reached, the period it was first raised (`raised_on`) and first at medium or worse
    (`serious_on`, NaT if never)."""
    config = config or MonitorConfig()
    panel = build_panel(sell_through)
    signals = detector_signals(panel, config) if len(panel.dates) else []
    return replay_signals(panel, signals, nodes, since=since, until=until, config=config)


def replay_signals(grid: Grid | Panel, signals: list[Signal], nodes: pd.DataFrame, *,
                   since: date | None = None, until: date | None = None,
                   config: MonitorConfig | None = None) -> pd.DataFrame:
    """`replay` from signals already computed (locally, or assembled from a store's parts),
    ending at period `until` (default: the last)."""
    config = config or MonitorConfig()
    channels = _channels(nodes)
    signals = pooled_signals(grid, signals, config)
    end = len(grid.dates) if until is None else int(
        grid.dates.searchsorted(pd.Timestamp(until), side="right"))
    first = end - 1 if since is None else int(grid.dates.searchsorted(pd.Timestamp(since)))
    episodes: dict[str, dict[str, object]] = {}
    open_now = pd.DataFrame(columns=["alert_id", *DETECTED_COLUMNS, "status"])
    for t in range(max(first, 0), end):
        detected = _alerts_at(grid, signals, t, config, channels)
        changes = update_alerts(open_now, detected, as_of=grid.dates[t].date())
        for frame in (changes.opened, changes.extended, changes.closed):
            for rec in frame.to_dict("records"):
                _record(episodes, rec, grid.dates[t])
        live = [f for f in (changes.opened, changes.extended) if len(f)]
        open_now = pd.concat(live, ignore_index=True) if live else open_now.iloc[:0]
    columns = [*ALERT_COLUMNS, CHANNEL, "status", "raised_on", "serious_on"]
    if not episodes:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.DataFrame(list(episodes.values()))[columns]
    return out.sort_values(["period_start", "kind", NODE, ITEM], ignore_index=True)
