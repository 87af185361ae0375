"""The channel monitor inside the service: alerts computed as data arrives, the health index.

`POST /v1/sell-through` and `PUT /v1/inventory` only queue the periods they touched
(`AlertMonitor.submit`) and answer; one background thread per process then runs the
detectors of `models.monitor` for each period, in order, on what the service holds: the
served model's sell-through (the trained tail plus every batch rolled in since) and the
node table. `models.monitor.alerts.update_alerts` decides which alerts open, extend and
close; `serving.alerts.AlertStore` writes that in one transaction, and a webhook message
carries what opened and closed. A run for period t sees data up to t only; a period
earlier than the last run's is re-examined by a run at the last run's period (alerts never
move backwards). Running a period again with the same data changes nothing (idempotent).

An inventory snapshot's `on_hand` fills the reported stock of the period its `as_of` falls
in, where the sell-through rows of that period did not report stock themselves.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import date

import numpy as np
import pandas as pd
from fastapi import Request
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import select

from features.schema import AS_OF, CHANNEL, DATE, ITEM, NODE, ON_HAND, PARENT
from models.monitor.alerts import detect_alerts, update_alerts
from models.monitor.health import score_health
from models.monitor.kpi import monthly_kpis
from serving.alerts import AlertConflictError, AlertStore, Applied
from serving.service import Service
from serving.tables import AlertRow, AlertRunRow, utcnow
from serving.webhooks import Message, WebhookSender

__all__ = ["AlertMonitor", "OpenAlertsCollector", "alert_json", "monitor_of"]

log = logging.getLogger("channelcast.serving")
HEALTH_CACHE = 32
TREND_MONTHS = 6
HEALTH_KEYS = {"node": NODE, "parent": PARENT, "channel": CHANNEL}


def monitor_of(request: Request) -> AlertMonitor:
    """The app's monitor (set by `serving.app.create_app`)."""
    monitor: AlertMonitor = request.app.state.monitor  # Starlette's app state is untyped
    return monitor


def alert_json(row: AlertRow) -> dict[str, object]:
    """An alert as the API and the webhooks show it."""
    return {"alert_id": row.alert_id, "kind": row.kind, "severity": row.severity,
            "node_id": row.node_id, "sku": row.sku, "period_start": row.period_start,
            "period_end": row.period_end, "score": row.score, "expected": row.expected,
            "observed": row.observed, "message": row.message, "status": row.status}


class OpenAlertsCollector:
    """`channelcast_alerts_open{kind,severity}`, counted in the database at scrape time
    (the same in every worker, so nothing to sum across processes)."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("channelcast_alerts_open", "Alerts not closed (open or "
                                   "acknowledged), by kind and severity.",
                                   labels=["kind", "severity"])
        for (kind, severity), count in sorted(self.store.open_counts().items()):
            family.add_metric([kind, severity], count)
        yield family


class AlertMonitor:
    """Detection in a background thread, alert storage, webhooks, the health index."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = AlertStore(service.db)
        settings = service.settings
        self.webhooks = (None if not settings.webhook_url else WebhookSender(
            service.db, url=settings.webhook_url, secret=settings.webhook_secret,
            attempts=settings.webhook_attempts,
            backoff_seconds=settings.webhook_backoff_seconds))
        self._queue: queue.Queue[tuple[date, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._health: OrderedDict[tuple[object, ...], pd.DataFrame] = OrderedDict()  # + KPIs
        self._health_lock = threading.Lock()
        self.changes = 0  # bumped by every detection run of this process (health cache key)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.service.metrics.add_collector(OpenAlertsCollector(self.store))
        if self.webhooks is not None:
            self.webhooks.start()
        if self.service.settings.monitor:
            self._thread = threading.Thread(target=self._run, name="channelcast-monitor",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
        if self.webhooks is not None:
            self.webhooks.stop()

    def submit(self, periods: Iterable[date], trigger: str) -> None:
        """Queue detection runs for `periods` (returns at once)."""
        for day in sorted(set(periods)):
            self._queue.put((day, trigger))

    def join(self) -> None:
        """Wait until every queued run (and webhook message) is done (tests, benchmarks)."""
        self._queue.join()
        if self.webhooks is not None:
            self.webhooks.join()

    def idle(self, timeout: float) -> bool:
        """Wait up to `timeout` s until no detection run is queued or running; True if none."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self.run(*item)
            except Exception as exc:  # keep monitoring; the run row says what failed
                log.error("alert detection for %s failed: %s", item, exc)
            finally:
                self._queue.task_done()

    # --- one detection run ------------------------------------------------------------------

    def run(self, as_of: date, trigger: str) -> Applied | None:
        """Detect alerts for period `as_of` and apply them; None when there is nothing to
        run on (no model, a model that keeps no history, or data that ends before
        `as_of`)."""
        last = self.store.last_run()
        if last is not None and date.fromisoformat(last.as_of) > as_of:
            as_of = date.fromisoformat(last.as_of)
        data = self._data_through(as_of)
        if data is None:
            return None
        sell_through, nodes = data
        run = self._record(AlertRunRow(as_of=f"{as_of:%Y-%m-%d}", trigger=trigger[:64],
                                       started_at=utcnow(), opened=0, extended=0, closed=0))
        try:
            detected = detect_alerts(sell_through, nodes, as_of=as_of)
            applied = self._apply(detected, as_of)
        except Exception as exc:
            run.error, run.finished_at = f"{type(exc).__name__}: {exc}", utcnow()
            self._record(run)
            raise
        run.opened, run.extended, run.closed = (len(applied.opened), len(applied.extended),
                                                len(applied.closed))
        run.finished_at = utcnow()
        self._record(run)
        self.changes += 1
        self._notify(applied, as_of)
        return applied

    def _data_through(self, as_of: date) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """What the service holds, once it reaches period `as_of` (another worker may have
        applied it: its batches are picked up first); None if it does not."""
        dates = self.held_dates()
        if dates is not None and dates.max() < pd.Timestamp(as_of):
            with self.service.models.lock:
                self.service.sync_batches()
            dates = self.held_dates()
        if dates is None or dates.max() < pd.Timestamp(as_of):
            log.warning("alerts for %s not computed: the data held here ends before it", as_of)
            return None
        return self.data()  # folded once, when it is used

    def _apply(self, detected: pd.DataFrame, as_of: date) -> Applied:
        for attempt in range(3):
            open_alerts = self.store.open_frame()
            changes = update_alerts(open_alerts, detected, as_of=as_of)
            try:
                return self.store.apply(changes)
            except AlertConflictError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record(self, run: AlertRunRow) -> AlertRunRow:
        with self.service.db.session() as session:
            run = session.merge(run)
        return run

    def _notify(self, applied: Applied, as_of: date) -> None:
        if self.webhooks is None or not (applied.opened or applied.closed or applied.escalated):
            return
        ids = [*applied.opened, *applied.escalated, *applied.closed]
        with self.service.db.session() as session:
            found = session.scalars(select(AlertRow).where(AlertRow.alert_id.in_(ids)))
            rows = {r.alert_id: r for r in found}
        self.webhooks.send(Message(event="alerts.changed", alert_ids=ids, payload={
            "as_of": f"{as_of:%Y-%m-%d}",
            "opened": [alert_json(rows[i]) for i in applied.opened if i in rows],
            "escalated": [alert_json(rows[i]) for i in applied.escalated if i in rows],
            "closed": [alert_json(rows[i]) for i in applied.closed if i in rows]}))

    def acknowledged(self, row: AlertRow) -> None:
        """Tell the webhook an alert was acknowledged (and by whom); the health index does
        not change (an acknowledged alert is still open)."""
        if self.webhooks is not None:
            self.webhooks.send(Message(
                event="alert.acknowledged", alert_ids=[row.alert_id],
                payload={"alert": alert_json(row), "acknowledged_by": row.acknowledged_by,
                         "ack_note": row.ack_note}))

    # --- what the detectors read -------------------------------------------------------------

    def _held(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(the model's tail, the node table) as held, nothing copied; None without either."""
        current = self.service.models.current
        state = getattr(current.forecaster, "state", None) if current is not None else None
        if state is None:
            return None
        nodes = self.service.channel.nodes
        nodes = state.nodes if nodes is None else nodes
        return None if nodes is None else (state.tail, nodes)

    def data(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(sell-through, nodes) the service holds: the model's tail with inventory stock
        folded in, and the node table."""
        held = self._held()
        return None if held is None else (fold_inventory(held[0], self.service.channel.inventory),
                                           held[1])

    def held_dates(self) -> pd.Series | None:
        """The period dates of the sell-through `data` holds (cheap: no inventory fold)."""
        held = self._held()
        return None if held is None else held[0][DATE]

    def inventory_periods(self) -> list[date]:
        """The periods the inventory in force reports stock for (within the held data)."""
        held = self._held()
        inventory = self.service.channel.inventory
        if held is None or inventory is None or inventory.empty:
            return []
        periods = _period_of(held[0], inventory)
        return sorted({d.date() for d in periods.dropna()})

    # --- the health index ------------------------------------------------------------------

    def health(self, *, level: str, month: str | None) -> pd.DataFrame:
        """The health index of `level` for `month` (default: the latest) with a `trend`
        column: (month, score) of up to `TREND_MONTHS` months ending with it. Cached per
        model, inventory and detection run; the monthly KPIs (the costly part) per model
        and inventory."""
        data = self.data()
        if data is None:
            raise LookupError("no model with sell-through history is loaded; the health "
                              "index needs one (GET /readyz says why).")
        state = (id(self.service.models.current), self.service.channel.snapshot_id)
        key = (*state, self.changes, level, month)
        with self._health_lock:
            if key in self._health:
                self._health.move_to_end(key)
                return self._health[key]
            table = self._health.get((*state, level, "kpis"))
        if table is None:
            table = monthly_kpis(data[0], data[1], level=level)
        alerts = self.store.open_frame()
        frame = score_health(table, data[1], level=level, month=month, alerts=alerts)
        frame["trend"] = _trend(table, data[1], frame, level=level, alerts=alerts)
        with self._health_lock:
            self._health[(*state, level, "kpis")] = table
            self._health[key] = frame
            while len(self._health) > HEALTH_CACHE:
                self._health.popitem(last=False)
        return frame


def _trend(table: pd.DataFrame, nodes: pd.DataFrame, frame: pd.DataFrame, *, level: str,
           alerts: pd.DataFrame) -> list[list[tuple[str, float]]]:
    """Per row of `frame` (one month's index), (month, score) of the months up to it."""
    if frame.empty:
        return []
    key = HEALTH_KEYS[level]
    chosen = str(frame["month"].iloc[0])
    months = sorted(m for m in table["month"].astype(str).unique() if m <= chosen)
    earlier = {m: score_health(table, nodes, level=level, month=m, alerts=alerts)
               .set_index(key)["score"] for m in months[-TREND_MONTHS:-1]}
    return [[*((m, float(s.get(k, np.nan))) for m, s in earlier.items()), (chosen, float(v))]
            for k, v in zip(frame[key], frame["score"], strict=True)]


def _period_of(tail: pd.DataFrame, inventory: pd.DataFrame) -> pd.Series:
    """The tail period each inventory row's `as_of` falls in (NaT past the tail's last one
    or before its first)."""
    grid = np.sort(pd.to_datetime(tail[DATE]).unique())
    if len(grid) == 0:
        return pd.Series(pd.NaT, index=inventory.index)
    as_of = pd.to_datetime(inventory[AS_OF]).to_numpy()
    pos = np.searchsorted(grid, as_of, side="right") - 1
    step = grid[-1] - grid[-2] if len(grid) > 1 else np.timedelta64(7, "D")
    inside = (pos >= 0) & (as_of < grid[-1] + step)
    out = pd.Series(pd.NaT, index=inventory.index, dtype="datetime64[ns]")
    out[inside] = grid[pos[inside]]
    return out


def fold_inventory(tail: pd.DataFrame, inventory: pd.DataFrame | None) -> pd.DataFrame:
    """`tail` with the snapshot's `on_hand` where the period's row reported none."""
    if inventory is None or inventory.empty or ON_HAND not in inventory:
        return tail
    inv = inventory.assign(**{DATE: _period_of(tail, inventory)}).dropna(subset=[DATE])
    inv = inv.dropna(subset=[ON_HAND]).drop_duplicates([NODE, ITEM, DATE], keep="last")
    if inv.empty:
        return tail
    out = tail.copy()
    if ON_HAND not in out:
        out[ON_HAND] = np.nan
    # only the rows of the periods the snapshot reports: a whole-tail index costs seconds
    at = np.flatnonzero(out[DATE].isin(inv[DATE].unique()).to_numpy())
    where = out.iloc[at]
    keys = pd.MultiIndex.from_arrays([where[NODE].astype(str), where[ITEM].astype(str),
                                      pd.to_datetime(where[DATE])])
    found = keys.get_indexer(pd.MultiIndex.from_arrays(
        [inv[NODE].astype(str), inv[ITEM].astype(str), pd.to_datetime(inv[DATE])]))
    hit = found >= 0
    rows = at[found[hit]]
    column = out.columns.get_loc(ON_HAND)
    reported = out.iloc[rows, column].to_numpy(dtype=float)
    values = np.where(np.isnan(reported), inv[ON_HAND].to_numpy(dtype=float)[hit], reported)
    out.iloc[rows, column] = values
    return out
