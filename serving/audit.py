"""The audit log writer: entries are queued by the request path and written in batches by
one background thread, so that recording who did what never delays an answer.

`flush()` waits until everything queued so far is in the database (the audit route calls
it, so a process reads its own entries); `close()` writes the rest at shutdown.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime
from typing import TypedDict, Unpack

from serving.db import Database
from serving.tables import AuditRow

__all__ = ["AuditFields", "AuditWriter"]

log = logging.getLogger("channelcast.serving")


class AuditFields(TypedDict):
    """One entry: the columns of `AuditRow` but its id."""

    at: datetime
    actor: str | None
    role: str | None
    method: str
    path: str
    status: int
    action: str | None
    object_id: str | None
    detail: dict[str, object] | None
    request_id: str


class AuditWriter:
    """Queue audit entries (`add`) and write them from a background thread."""

    def __init__(self, db: Database, *, batch: int = 200) -> None:
        self.db = db
        self.batch = batch
        self._queue: queue.Queue[AuditFields | None] = queue.Queue()  # None: stop
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="channelcast-audit",
                                        daemon=True)
        self._thread.start()

    def add(self, **entry: Unpack[AuditFields]) -> None:
        """Queue one entry (the columns of `AuditRow`); written within milliseconds."""
        if self._thread is None:  # not started (a bare Service): write at once
            self._write([entry])
            return
        self._queue.put(entry)

    def flush(self) -> None:
        """Return when every entry queued before this call is written."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            entries = [i for i in items if i is not None]
            try:
                if entries:
                    self._write(entries)
            finally:
                for _ in items:
                    self._queue.task_done()
            if len(entries) < len(items):
                return

    def _write(self, entries: list[AuditFields]) -> None:
        try:
            with self.db.session() as session:
                session.add_all([AuditRow(**e) for e in entries])
        except Exception as exc:  # the answers are sent: log, never fail them
            log.error("cannot write %d audit entries: %s", len(entries), exc)
