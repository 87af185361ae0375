"""The audit writer: queued entries reach the database, in order, and survive shutdown."""

from __future__ import annotations

from sqlalchemy import select

from serving.audit import AuditWriter
from serving.db import Database
from serving.tables import AuditRow, utcnow


def _entry(i: int) -> dict:
    return {"at": utcnow(), "actor": "ann", "role": "planner", "method": "POST",
            "path": f"/v1/x/{i}", "status": 200, "action": "x", "object_id": str(i),
            "detail": {"i": i}, "request_id": f"r{i}"}


def test_queued_entries_are_written_in_order_by_flush_and_close(db: Database):
    writer = AuditWriter(db, batch=7)
    writer.start()
    for i in range(50):
        writer.add(**_entry(i))
    writer.flush()
    with db.session() as session:
        paths = [r.path for r in session.scalars(select(AuditRow).order_by(AuditRow.id))]
    assert paths == [f"/v1/x/{i}" for i in range(50)]
    writer.add(**_entry(50))
    writer.close()
    with db.session() as session:
        last = session.scalar(select(AuditRow).order_by(AuditRow.id.desc()))
        assert last is not None and last.detail == {"i": 50}


def test_an_unstarted_writer_writes_at_once(db: Database):
    AuditWriter(db).add(**_entry(1))
    with db.session() as session:
        row = session.scalar(select(AuditRow))
        assert row is not None and row.object_id == "1"
