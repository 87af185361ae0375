"""ASGI middleware: request ids, metrics and the audit log; body size limit; idempotent POSTs.

`Observe` (outermost) times every request, counts it per route template and status, and
queues an audit entry (`serving.audit`) for every request that may change something (not
GET/HEAD/OPTIONS, nor the query POSTs /v1/forecasts and /v1/stock-risk unless refused with
401/403), with the caller's key name and role and what the route put in
`request.state.audit`.

`BodyGuard` reads the body of POST/PUT/PATCH once: over `max_body_bytes` is 413 before the
app sees it. A POST with `Idempotency-Key` is answered from the record when the same caller
sent the same key with the same method, path and body before; the same key with anything
else is 409; a request still running under the key is 409 too (retry later).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from serving.keys import hash_key
from serving.service import Service
from serving.tables import IdempotencyRow, utcnow

__all__ = ["BodyGuard", "Observe"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_READ_ONLY = {"GET", "HEAD", "OPTIONS"}
_NOT_RECORDED = {401, 403, 409, 413, 429}
_QUERIES = {"/v1/forecasts", "/v1/stock-risk"}  # POSTs that change nothing: not audited


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _json(send: Send, status: int, body: dict[str, Any],
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


class Observe:
    """Request id, metrics and audit for every HTTP request."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        request_id = (_header(scope, b"x-request-id") or uuid.uuid4().hex[:16])[:64]
        scope.setdefault("state", {})["request_id"] = request_id  # for the 500 handler's log
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        self.service.metrics.started()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.service.metrics.observe(scope["method"], template, status[0],
                                         time.perf_counter() - began)
            if _audited(scope["method"], template, status[0]):
                self._audit(scope, status[0], request_id)

    def _audit(self, scope: Scope, status: int, request_id: str) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        audit = state.get("audit") or {}
        self.service.audit.add(
            at=utcnow(), actor=getattr(principal, "name", None),
            role=getattr(principal, "role", None), method=scope["method"],
            path=scope["path"][:500], status=status, action=audit.get("action"),
            object_id=audit.get("object_id"), detail=audit.get("detail"),
            request_id=request_id)


def _audited(method: str, template: str, status: int) -> bool:
    """Requests that may change something, and refused keys on any route."""
    if template == "unmatched" or method in _READ_ONLY:
        return False
    return template not in _QUERIES or status in (401, 403)


class BodyGuard:
    """Request size limit (413) and idempotent POSTs (see the module docstring)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.service.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await _json(send, 413, _too_large(int(declared), limit))
            return
        body = await _read(receive, limit)
        if body is None:
            await _json(send, 413, _too_large(None, limit))
            return
        replay = _replayer(body, receive)
        key = _header(scope, b"idempotency-key")
        if scope["method"] == "POST" and key is not None:
            await self._idempotent(scope, replay, send, key, body)
            return
        await self.app(scope, replay, send)

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send, key: str,
                          body: bytes) -> None:
        if not 1 <= len(key) <= 255 or not key.isprintable():
            await _json(send, 422, {"detail": "header Idempotency-Key must be 1 to 255 "
                                    "printable characters, e.g. a UUID",
                                    "errors": [{"loc": ["header", "Idempotency-Key"],
                                                "msg": "1 to 255 printable characters",
                                                "type": "idempotency_key", "value": None}]})
            return
        owner = _owner(scope)
        if owner is None:  # no key: the route answers 401, nothing to remember
            await self.app(scope, receive, send)
            return
        digest = _request_hash(scope, body)
        found = await to_thread.run_sync(self._claim, owner, key, digest)
        if found is not None:
            await _answer_recorded(send, found, key, scope, same=found.request_hash == digest)
            return
        captured = _Capture(send)
        try:
            await self.app(scope, receive, captured)
        finally:
            await to_thread.run_sync(self._settle, owner, key, captured)

    def _claim(self, owner: str, key: str, digest: str) -> IdempotencyRow | None:
        """Record that the key is running; the earlier record when there is one."""
        try:
            with self.service.db.session() as session:
                session.add(IdempotencyRow(owner=owner, key=key, request_hash=digest,
                                           created_at=utcnow()))
            return None
        except IntegrityError:
            with self.service.db.session() as session:
                row = session.scalar(select(IdempotencyRow).where(
                    IdempotencyRow.owner == owner, IdempotencyRow.key == key))
            if row is None:  # settled and deleted meanwhile: treat as new
                return self._claim(owner, key, digest)
            return row

    def _settle(self, owner: str, key: str, captured: _Capture) -> None:
        where = (IdempotencyRow.owner == owner, IdempotencyRow.key == key)
        with self.service.db.session() as session:
            if captured.status is None or captured.status >= 500 or \
                    captured.status in _NOT_RECORDED:
                session.execute(delete(IdempotencyRow).where(*where))
                return
            row = session.scalar(select(IdempotencyRow).where(*where))
            if row is not None:
                row.status_code = captured.status
                row.content_type = captured.content_type
                row.response = captured.body.decode("utf-8", errors="replace")


class _Capture:
    """Forwards a response and keeps a copy of its status, type and body."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status: int | None = None
        self.content_type = "application/json"
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for k, v in message.get("headers", []):
                if k.lower() == b"content-type":
                    self.content_type = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        await self.send(message)


async def _answer_recorded(send: Send, row: IdempotencyRow, key: str, scope: Scope, *,
                           same: bool) -> None:
    if not same:
        await _json(send, 409, {"detail": f"Idempotency-Key {key!r} was used before with a "
                                "different request; send a new key for a new request "
                                f"({scope['method']} {scope['path']})."})
        return
    if row.status_code is None:
        await _json(send, 409, {"detail": f"a request with Idempotency-Key {key!r} is still "
                                "being answered; retry in a moment."})
        return
    data = (row.response or "").encode()
    await send({"type": "http.response.start", "status": row.status_code, "headers": [
        (b"content-type", (row.content_type or "application/json").encode()),
        (b"content-length", str(len(data)).encode()), (b"idempotent-replayed", b"true")]})
    await send({"type": "http.response.body", "body": data})


def _owner(scope: Scope) -> str | None:
    key = _header(scope, b"x-api-key")
    auth = _header(scope, b"authorization")
    if not key and auth and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return hash_key(key) if key else None


def _request_hash(scope: Scope, body: bytes) -> str:
    head = f"{scope['method']} {scope['path']}?{scope.get('query_string', b'').decode()}\n"
    return hashlib.sha256(head.encode() + body).hexdigest()


def _too_large(size: int | None, limit: int) -> dict[str, Any]:
    got = f"{size:,} bytes" if size is not None else "more"
    return {"detail": f"request body too large: {got}, the limit is {limit:,} bytes; split the "
            "rows over several requests."}


async def _read(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayer(body: bytes, receive: Receive) -> Receive:
    sent = [False]

    async def replay() -> Message:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
