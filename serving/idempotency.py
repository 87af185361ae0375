"""Idempotent POSTs: a key is claimed only after the caller is admitted, every write of the
attempt is fenced by the claim, and the answer is recorded without secrets.

How a retry after a crash gets the committed result or a fresh run, never both:

1. `serving.middleware.BodyGuard` reads the body of a POST with `Idempotency-Key` and opens
   an `Attempt` (a context variable); nothing is looked up yet.
2. The route's key dependency (`serving.deps.require`) authenticates the key and checks its
   role; only then `claim` runs, so a revoked key (401) or a role below the route's (403)
   never sees a recorded answer. `claim` inserts the record (owner: the SHA-256 of the API
   key; the Idempotency-Key; the request's hash; a random token; `lease_until` = now + the
   lease) or reads the earlier one: answered and the same request -> `Replay` (the recorded
   answer); another request -> 409; running with its lease not yet out -> 409 "retry in N s";
   running with its lease out (its attempt crashed, or is far too slow) -> taken over by a
   compare-and-set of the token, and this attempt runs.
3. Every transaction of the attempt that writes (`watch` hooks the service's sessions)
   updates the record in that same transaction, where its token is still this attempt's:
   `lease_until` becomes None (the key can no longer be taken over) and the answer is set to
   the one the route gave before committing (`answer`), else to a final 409 saying that the
   request was carried out. When the token is no longer ours, another attempt holds the key:
   the transaction rolls back and this attempt answers 409. A write therefore commits only
   together with the record that shuts every other attempt out: two attempts never both
   commit.
4. After the answer was sent, `settle` records it (where the token is still ours); an attempt
   that committed nothing and failed (5xx, 401, 403, 409, 413, 429) deletes the record.

So a crash before step 3 leaves a record whose lease runs out (after
`Settings.idempotency_lease_seconds`): the retry runs again, and nothing had been committed.
A crash between 3 and 4 leaves the answer given in step 3 (the allocation routes give the
exact answer), never a second run. Recorded answers hold no secrets: a route may give what to
record instead of what it sent (`record_instead`: key creation records the key's facts and a
note, never the key).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session

from serving.db import rows_changed
from serving.errors import ApiError
from serving.tables import IdempotencyRow, as_utc, utcnow

if TYPE_CHECKING:
    from serving.db import Database

__all__ = ["Attempt", "Replay", "answer", "claim", "closed", "current", "opened",
           "record_instead", "replay_answer", "request_hash", "settle", "watch"]

NOT_RECORDED = frozenset({401, 403, 409, 413, 429})
_BOOKKEEPING = "idempotency.bookkeeping"  # session.info flag: the record's own sessions
_WROTE = "idempotency.wrote"
_CURRENT: ContextVar[Attempt | None] = ContextVar("channelcast_idempotency", default=None)


@dataclass
class Attempt:
    """One request sent with an `Idempotency-Key`, and what it holds of the record."""

    key: str
    digest: str
    lease_seconds: float
    owner: str | None = None
    row_id: int | None = None
    token: str | None = None  # set while this attempt holds the key
    answer: tuple[int, bytes] | None = None  # the answer to commit with the first write
    record: bytes | None = None  # recorded instead of the body sent
    tried: bool = False


class Replay(Exception):
    """The recorded answer to send again."""

    def __init__(self, status: int, content_type: str | None, body: str | None) -> None:
        super().__init__(status)
        self.status = status
        self.content_type = content_type or "application/json"
        self.body = (body or "").encode()


class _LeaseLost(ApiError):
    """Another attempt took the key over: this one's writes roll back."""


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    """The SHA-256 (hex) that tells a resent request from another one under the same key."""
    head = f"{method} {path}?{query.decode('latin-1')}\n"
    return hashlib.sha256(head.encode() + body).hexdigest()


def opened(attempt: Attempt) -> Token[Attempt | None]:
    """Make `attempt` the current one (returns the token for `_CURRENT.reset`)."""
    return _CURRENT.set(attempt)


def closed(token: Token[Attempt | None]) -> None:
    """Undo `opened`."""
    _CURRENT.reset(token)


def current() -> Attempt | None:
    """The attempt of the request being answered, if it was sent with an Idempotency-Key."""
    return _CURRENT.get()


def _json(content: object) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


def answer(status: int, content: object) -> None:
    """The answer a route will send, given before its write commits (recorded with it)."""
    attempt = current()
    if attempt is not None:
        attempt.answer = (status, attempt.record or _json(content))


def record_instead(content: object) -> None:
    """What to record (and replay) instead of the answer sent: an answer without secrets."""
    attempt = current()
    if attempt is not None:
        attempt.record = _json(content)
        if attempt.answer is not None:
            attempt.answer = (attempt.answer[0], attempt.record)


def claim(db: Database, attempt: Attempt, owner: str) -> None:
    """Hold the key for `attempt` (see the module docstring, step 2).

    Raises:
        Replay: the same request was answered before.
        ApiError: 409, the key was used with another request or is still being answered.
    """
    attempt.tried, attempt.owner = True, owner
    now, token = utcnow(), uuid.uuid4().hex
    lease = now + timedelta(seconds=attempt.lease_seconds)
    try:
        with db.session() as session:
            session.info[_BOOKKEEPING] = True
            row = IdempotencyRow(owner=owner, key=attempt.key, request_hash=attempt.digest,
                                 created_at=now, token=token, lease_until=lease)
            session.add(row)
            session.flush()
            attempt.row_id, attempt.token = row.id, token
        return
    except IntegrityError:
        pass
    with db.session() as session:
        session.info[_BOOKKEEPING] = True
        found = session.scalar(select(IdempotencyRow).where(
            IdempotencyRow.owner == owner, IdempotencyRow.key == attempt.key))
        if found is None:  # answered with a refusal and deleted meanwhile: a new request
            return claim(db, attempt, owner)
        if found.request_hash != attempt.digest:
            raise ApiError(409, f"Idempotency-Key {attempt.key!r} was used before with a "
                           "different request; send a new key for a new request.")
        if found.status_code is not None:
            raise Replay(found.status_code, found.content_type, found.response)
        until = as_utc(found.lease_until) or (
            (as_utc(found.created_at) or now) + timedelta(seconds=attempt.lease_seconds))
        if until > now:
            wait = max(1, int((until - now).total_seconds() + 0.999))
            raise ApiError(409, f"a request with Idempotency-Key {attempt.key!r} is still "
                           f"being answered; retry in a moment (its lease runs out in {wait} s "
                           "at the latest).", headers={"Retry-After": str(min(wait, 5))})
        held = (IdempotencyRow.token.is_(None) if found.token is None
                else IdempotencyRow.token == found.token)
        took = session.execute(update(IdempotencyRow).where(
            IdempotencyRow.id == found.id, held, IdempotencyRow.status_code.is_(None))
            .values(token=token, lease_until=lease))
        if rows_changed(took) != 1:
            raise ApiError(409, f"a request with Idempotency-Key {attempt.key!r} was taken "
                           "over by another attempt just now; retry in a moment.",
                           headers={"Retry-After": "1"})
        attempt.row_id, attempt.token = found.id, token
    return None


def _carried_out(attempt: Attempt) -> bytes:
    return _json({"detail": f"the request with Idempotency-Key {attempt.key!r} was carried "
                  "out, but the service stopped before its answer was recorded; read the "
                  "result from the resource it changed (e.g. GET /v1/allocations, "
                  "/v1/models/current, /v1/keys)."})


def _fence(session: Session) -> None:
    """Step 3 of the module docstring: runs before every commit of the service's sessions."""
    attempt = current()
    if attempt is None or attempt.token is None or session.info.get(_BOOKKEEPING):
        return
    if not (session.info.get(_WROTE) or session.new or session.dirty or session.deleted):
        return
    status, body = attempt.answer or (409, _carried_out(attempt))
    done = session.execute(update(IdempotencyRow).where(
        IdempotencyRow.id == attempt.row_id, IdempotencyRow.token == attempt.token)
        .values(lease_until=None, status_code=status, content_type="application/json",
                response=body.decode()))
    if rows_changed(done) != 1:
        raise _LeaseLost(409, f"the request with Idempotency-Key {attempt.key!r} ran past its "
                         f"lease ({attempt.lease_seconds:g} s) and a retry took it over; "
                         "nothing of this attempt was kept: send it again to get the retry's "
                         "answer.")


def _wrote(session: Session, *_args: object) -> None:
    session.info[_WROTE] = True


def _wrote_by_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def _forget_writes(session: Session, *_args: object) -> None:
    session.info.pop(_WROTE, None)


def watch(db: Database) -> None:
    """Fence every writing transaction of `db`'s sessions by the current attempt's claim."""
    db.listen("after_flush", _wrote)
    db.listen("do_orm_execute", _wrote_by_statement)
    db.listen("before_commit", _fence)
    db.listen("after_commit", _forget_writes)
    db.listen("after_rollback", _forget_writes)


def settle(db: Database, attempt: Attempt, status: int | None, content_type: str,
           body: bytes) -> None:
    """Record the answer sent (step 4), or free the key of an attempt that changed nothing
    and failed."""
    if attempt.token is None:
        return
    mine = (IdempotencyRow.id == attempt.row_id, IdempotencyRow.token == attempt.token)
    with db.session() as session:
        session.info[_BOOKKEEPING] = True
        row = session.scalar(select(IdempotencyRow).where(*mine))
        if row is None:  # taken over: the other attempt's answer stands
            return
        failed = status is None or status >= 500 or status in NOT_RECORDED
        if failed and row.lease_until is not None:  # nothing committed: free the key
            session.execute(delete(IdempotencyRow).where(*mine))
            return
        if status is None:  # committed, then the answer broke off: keep the fenced answer
            return
        row.status_code, row.content_type = status, content_type
        row.response = (attempt.record or body).decode("utf-8", errors="replace")
        row.lease_until = None


async def replay_answer(_request: Request, exc: Exception) -> Response:
    """The exception handler that sends a recorded answer again."""
    assert isinstance(exc, Replay)
    return Response(exc.body, status_code=exc.status, media_type=exc.content_type,
                    headers={"Idempotent-Replayed": "true"})
