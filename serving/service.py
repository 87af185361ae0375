"""Everything one service process holds: database, keys, the served model, the channel
tables, metrics; and the operations that change them (reload, roll forward, new inventory).

Changes are written to the database first and then swapped in, so a failed write changes
nothing. Other worker processes pick the changes up from the database within
`Settings.sync_seconds` (`sync_once`); a key revoked by another worker is dropped from
this worker's key cache at the first poll after it (so it stops working here within one
poll), and a restarted service replays the recorded
sell-through over the model it loads, so forecasts keep starting from the latest period.
An admin can revert a sell-through batch (`revert`): the model is rebuilt from its registry
version and the batches that remain, and every worker follows (reverted batches are never
replayed again).
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import replace
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select, update

from features.schema import DATE, ITEM, NODE
from serving import idempotency
from serving.audit import AuditWriter
from serving.channel import ChannelTables, load_folder
from serving.contract import JsonRow
from serving.db import Database, rows_changed
from serving.keys import KeyChecker
from serving.metrics import Metrics
from serving.model_store import ModelFacts, ModelHolder, ServedModel, load_model
from serving.settings import Settings
from serving.tables import (
    ApiKeyRow,
    InventorySnapshotRow,
    ModelReloadRow,
    SellThroughBatchRow,
    as_utc,
    utcnow,
)

__all__ = ["BatchConflictError", "Service"]

log = logging.getLogger("channelcast.serving")


class BatchConflictError(RuntimeError):
    """A sell-through batch cannot be reverted: it was already, or what remains cannot be
    replayed over the model."""


class Service:
    """The state of one service process (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        idempotency.watch(self.db)  # writes of idempotent requests are fenced by their claim
        self.keys = KeyChecker(self.db, ttl=settings.key_cache_seconds)
        self.audit = AuditWriter(self.db)
        self.models = ModelHolder()
        self.metrics = Metrics()
        self.channel = ChannelTables(nodes=None, inventory=None, central_stock=None,
                                     source="not loaded")
        self.channel_error: str | None = None
        self._seen_reload = 0
        self._seen_reverts = 0
        self._seen_revoked = 0
        self._stop = threading.Event()
        self._sync_thread: threading.Thread | None = None

    # --- startup and shutdown ---------------------------------------------------------

    def start(self) -> None:
        """Migrate, load the channel tables and the model; start following other workers."""
        if self.settings.migrate:
            self.db.migrate()
        with self.db.session() as session:
            self._seen_reload = session.scalar(select(func.max(ModelReloadRow.id))) or 0
            self._seen_reverts = session.scalar(_REVERTS) or 0
            self._seen_revoked = session.scalar(_REVOKED) or 0
        self.audit.start()
        if self.settings.load_model:
            self._load_model()
        self._load_channel()
        # Everything loaded so far (MLflow, pandas, the model) lives as long as the process:
        # keep it out of the cyclic collector's full passes, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        if self.settings.sync_seconds > 0:
            self._sync_thread = threading.Thread(target=self._follow, name="channelcast-sync",
                                                 daemon=True)
            self._sync_thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=5)
        self.audit.close()
        self.db.dispose()
        self.metrics.close()

    def _load_model(self) -> None:
        try:
            self.models.swap(self._replay(load_model(self.settings.model_uri,
                                                     tracking_uri=self.settings.tracking_uri)))
            self._note_model()
        except Exception as exc:  # the service still starts: readyz says why it is not ready
            self.models.error = f"cannot load {self.settings.model_uri}: {exc}"
            log.error("%s", self.models.error)

    def _model_nodes(self) -> pd.DataFrame | None:
        current = self.models.current
        state = getattr(current.forecaster, "state", None) if current else None
        return getattr(state, "nodes", None)

    def _load_channel(self) -> None:
        try:
            tables = load_folder(self.settings.data_dir, model_nodes=self._model_nodes())
            self.channel_error = None
        except Exception as exc:
            self.channel_error = f"cannot load data folder {self.settings.data_dir}: {exc}"
            log.error("%s", self.channel_error)
            tables = ChannelTables(nodes=self._model_nodes(), inventory=None,
                                   central_stock=None, source="model (data folder refused)")
        with self.db.session() as session:
            snap = session.scalar(select(InventorySnapshotRow)
                                  .order_by(InventorySnapshotRow.id.desc()).limit(1))
            if snap is not None:
                tables = tables.with_snapshot(snapshot_id=snap.id, at=as_utc(snap.created_at),
                                              inventory=snap.inventory,
                                              central_stock=snap.central_stock)
        self.channel = tables

    def _note_model(self) -> None:
        current = self.models.current
        if current is not None:
            self.metrics.set_model(name=current.name or "", version=current.version or "",
                                   origin=f"{current.forecaster.origin:%Y-%m-%d}")

    # --- model: reload and roll forward ---------------------------------------------------

    def reload(self, *, by: str) -> tuple[ServedModel, str | None]:
        """Load the model URI again (the champion may have moved) and swap it in.

        Raises:
            Exception: whatever loading raised; the current model stays.
        """
        fresh = self._replay(load_model(self.settings.model_uri,
                                        tracking_uri=self.settings.tracking_uri))
        with self.models.lock:
            previous = self.models.current
            before = previous.version if previous else None
            with self.db.session() as session:
                row = ModelReloadRow(at=utcnow(), by=by, model_uri=self.settings.model_uri,
                                     version=fresh.version, previous_version=before)
                session.add(row)
                session.flush()
                self._seen_reload = max(self._seen_reload, row.id)
            swapped = self.models.swap(fresh)
        self._note_model()
        self.metrics.count("model_reloads_total")
        return swapped, before

    def _batches(self, after: int = 0) -> list[SellThroughBatchRow]:
        with self.db.session() as session:
            return list(session.scalars(select(SellThroughBatchRow)
                                        .where(SellThroughBatchRow.id > after)
                                        .order_by(SellThroughBatchRow.id)))

    def _replay(self, model: ServedModel, after: int = 0, skip: int | None = None
                ) -> ServedModel:
        """`model` rolled forward over the recorded batches that were not reverted (nor are
        `skip`), rows after its origin only, all in one update."""
        batches = self._batches(after)
        if not batches:
            return model
        last = batches[-1].id
        batches = [b for b in batches if b.reverted_at is None and b.id != skip]
        if not batches:
            return replace(model, batch_id=last)
        rows = pd.DataFrame([r for b in batches for r in b.rows])
        rows[DATE] = pd.to_datetime(rows[DATE])
        origin = model.forecaster.origin
        pairs = list(zip(rows[NODE].astype(str), rows[ITEM].astype(str), strict=True))
        known = pd.Series([p in model.index for p in pairs], index=rows.index)
        rows = rows[(rows[DATE] > origin) & known]
        rows = rows.drop_duplicates([DATE, NODE, ITEM], keep="last").reset_index(drop=True)
        if rows.empty:  # nothing new for this model: keep it (and its forecast cache)
            return replace(model, batch_id=last)
        try:
            forecaster = model.forecaster.update(rows)
        except Exception as exc:
            log.error("cannot replay %d recorded sell-through rows over %s: %s", len(rows),
                      model.uri, exc)
            return ServedModel.build(model.forecaster, **_facts(model),
                                     origin_at_load=model.origin_at_load, batch_id=last,
                                     replay_error=str(exc))
        return model.rolled(forecaster, batch_id=last, batches=len(batches))

    def roll_forward(self, rows: pd.DataFrame, *, records: list[JsonRow], by: str
                     ) -> tuple[SellThroughBatchRow, ServedModel]:
        """Roll the current model over validated `rows`, record them, swap the model in.

        Raises:
            ValueError (RollForwardError): rows the model cannot take; nothing changes.
        """
        with self.models.lock:
            self.sync_batches()
            current = self.models.get()
            forecaster = current.forecaster.update(rows)
            with self.db.session() as session:
                batch = SellThroughBatchRow(
                    created_at=utcnow(), created_by=by, rows=records, n_rows=len(records),
                    origin_before=f"{current.forecaster.origin:%Y-%m-%d}",
                    origin_after=f"{forecaster.origin:%Y-%m-%d}")
                session.add(batch)
                session.flush()
            swapped = self.models.swap(current.rolled(forecaster, batch_id=batch.id,
                                                      batches=1))
        self._note_model()
        self.metrics.count("sell_through_rows_total", len(records))
        return batch, swapped

    def revert(self, batch_id: int, *, by: str
               ) -> tuple[SellThroughBatchRow, ServedModel, pd.Timestamp]:
        """Revert a sell-through batch: rebuild the model from its registry version and the
        batches that remain (in order), record who reverted it and when, swap it in.

        Returns:
            The batch (with `reverted_at`, `reverted_by`), the model now served, and the
            origin before the revert.

        Raises:
            LookupError: there is no batch `batch_id`.
            BatchConflictError: it was reverted already, or the remaining batches cannot be
                replayed; nothing changes.
            ModelUnavailableError: no model is loaded.
        """
        with self.models.lock:
            current = self.models.get()
            with self.db.session() as session:
                batch = session.get(SellThroughBatchRow, batch_id)
                reverts = session.scalar(_REVERTS) or 0
            if batch is None:
                raise LookupError(f"there is no sell-through batch {batch_id}; the answer to "
                                  "POST /v1/sell-through names each batch's id.")
            if batch.reverted_at is not None:
                raise BatchConflictError(_reverted(batch))
            rebuilt = self._rebuild(current, skip=batch_id)
            at = utcnow()
            with self.db.session() as session:  # one winner when two workers revert at once
                marked = session.execute(
                    update(SellThroughBatchRow)
                    .where(SellThroughBatchRow.id == batch_id,
                           SellThroughBatchRow.reverted_at.is_(None))
                    .values(reverted_at=at, reverted_by=by))
                if rows_changed(marked) != 1:
                    raise BatchConflictError(_reverted(session.get(SellThroughBatchRow,
                                                                   batch_id) or batch))
            batch.reverted_at, batch.reverted_by = at, by
            swapped = self.models.swap(rebuilt)
            self._seen_reverts = max(self._seen_reverts, reverts + 1)
        self._note_model()
        return batch, swapped, current.forecaster.origin

    def _rebuild(self, current: ServedModel, skip: int | None = None) -> ServedModel:
        """`current`'s registry version, freshly loaded, rolled forward over the batches
        that are not reverted (nor `skip`).

        Raises:
            BatchConflictError: those batches cannot be replayed over it.
        """
        uri = (f"models:/{current.name}/{current.version}" if current.name and current.version
               else current.uri)
        loaded = load_model(uri, tracking_uri=self.settings.tracking_uri)
        rebuilt = self._replay(ServedModel.build(loaded.forecaster, **_facts(current),
                                                origin_at_load=current.origin_at_load),
                               skip=skip)
        if rebuilt.replay_error is not None:
            raise BatchConflictError(f"the remaining sell-through batches cannot be replayed "
                                     f"over {uri}: {rebuilt.replay_error}; nothing changed.")
        return rebuilt

    def batch_of_period(self, day: pd.Timestamp) -> int | None:
        """The id of the batch in force (not reverted) that applied period `day`, if any."""
        text = f"{day:%Y-%m-%d}"
        with self.db.session() as session:
            return session.scalar(
                select(SellThroughBatchRow.id)
                .where(SellThroughBatchRow.reverted_at.is_(None),
                       SellThroughBatchRow.origin_before < text,
                       SellThroughBatchRow.origin_after >= text)
                .order_by(SellThroughBatchRow.id.desc()).limit(1))

    # --- inventory --------------------------------------------------------------------

    def put_inventory(self, *, inventory: list[JsonRow],
                      central_stock: list[JsonRow] | None, by: str
                      ) -> InventorySnapshotRow:
        """Record a validated snapshot and put it in force."""
        with self.db.session() as session:
            snap = InventorySnapshotRow(created_at=utcnow(), created_by=by, inventory=inventory,
                                        central_stock=central_stock)
            session.add(snap)
            session.flush()
        self._apply_snapshot(snap)
        return snap

    def _apply_snapshot(self, snap: InventorySnapshotRow) -> None:
        if snap.id <= self.channel.snapshot_id:
            return
        self.channel = self.channel.with_snapshot(
            snapshot_id=snap.id, at=as_utc(snap.created_at), inventory=snap.inventory,
            central_stock=snap.central_stock)

    # --- following other workers ------------------------------------------------------

    def sync_batches(self) -> None:
        """Apply sell-through batches recorded by other workers (call under the lock)."""
        current = self.models.current
        if current is None:
            return
        fresh = self._replay(current, after=current.batch_id)
        if fresh is not current:
            self.models.swap(fresh)

    def sync_once(self) -> None:
        """Pick up revocations, reloads, sell-through and inventory snapshots of other
        workers."""
        with self.db.session() as session:  # revocations first: nothing may delay them
            revoked = session.scalar(_REVOKED) or 0
        if revoked != self._seen_revoked:
            self._seen_revoked = revoked
            self.keys.forget()
        # Ids first: the rows (a snapshot holds the whole inventory) are read only when new,
        # so a quiet round costs two index lookups, not a JSON decode that stalls requests.
        with self.db.session() as session:
            reload_id = session.scalar(select(func.max(ModelReloadRow.id))) or 0
            snap_id = session.scalar(select(func.max(InventorySnapshotRow.id))) or 0
            batch_id = session.scalar(select(func.max(SellThroughBatchRow.id))) or 0
            reverts = session.scalar(_REVERTS) or 0
            snap = (session.get(InventorySnapshotRow, snap_id)
                    if snap_id > self.channel.snapshot_id else None)
        if reload_id > self._seen_reload:
            self._seen_reload = reload_id
            self._seen_reverts = reverts
            self._load_model()
        elif reverts > self._seen_reverts:
            self._follow_reverts(reverts)
        current = self.models.current
        if current is not None and batch_id > current.batch_id:
            with self.models.lock:
                self.sync_batches()
        if snap is not None:
            self._apply_snapshot(snap)

    def _follow_reverts(self, reverts: int) -> None:
        """Rebuild the model after another worker reverted a batch."""
        with self.models.lock:
            current = self.models.current
            if current is not None:
                self.models.swap(self._rebuild(current))
            self._seen_reverts = reverts
        self._note_model()

    def _follow(self) -> None:
        while not self._stop.wait(self.settings.sync_seconds):
            try:
                self.sync_once()
            except Exception as exc:  # keep following; the next round may succeed
                log.warning("sync with the database failed: %s", exc)


_REVERTS = (select(func.count(SellThroughBatchRow.id))
            .where(SellThroughBatchRow.reverted_at.is_not(None)))
_REVOKED = select(func.count(ApiKeyRow.id)).where(ApiKeyRow.revoked_at.is_not(None))


def _reverted(batch: SellThroughBatchRow) -> str:
    at = as_utc(batch.reverted_at)
    return (f"sell-through batch {batch.id} was already reverted by {batch.reverted_by} at "
            f"{at:%Y-%m-%d %H:%M:%S} UTC; post its rows again to apply them.")


def _facts(model: ServedModel) -> ModelFacts:
    return {"uri": model.uri, "name": model.name, "version": model.version,
            "run_id": model.run_id, "loaded_at": model.loaded_at}


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
