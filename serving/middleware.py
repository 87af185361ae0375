"""ASGI middleware: request ids, metrics and the audit log; body size limit; idempotent POSTs.

`Observe` (outermost) times every request, counts it per route template and status, and
queues an audit entry (`serving.audit`) for every request that may change something (not
GET/HEAD/OPTIONS, nor the query POSTs /v1/forecasts and /v1/stock-risk unless refused with
401/403), with the caller's key name and role and what the route put in
`request.state.audit`.

Every answer carries the security headers (`SECURITY_HEADERS`): a Content-Security-Policy
without inline script (the page, /docs and /redoc load their scripts from this origin; ReDoc
needs inline styles and starts its search worker from a blob: URL), no framing, no MIME
sniffing, no referrer.

`BodyGuard` reads the body of POST/PUT/PATCH once: over `max_body_bytes` is 413 before the
app sees it, and a body not received in full within `body_timeout_seconds` is 408 with the
connection closed. A POST with `Idempotency-Key` is answered from the record when the same
caller sent the same key with the same method, path and body before, but only after the
route admitted the caller's key and role; the same key with anything else is 409; a request
still running under the key is 409 too (retry later), until its lease runs out
(`serving.idempotency`).
"""

from __future__ import annotations

import json
import time
import uuid

import anyio
from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import idempotency
from serving.schemas import ErrorJson
from serving.service import Service
from serving.tables import utcnow

__all__ = ["SECURITY_HEADERS", "BodyGuard", "Observe"]

_READ_ONLY = {"GET", "HEAD", "OPTIONS"}
_QUERIES = {"/v1/forecasts", "/v1/stock-risk"}  # POSTs that change nothing: not audited
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' "
     b"'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
     b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _json(send: Send, status: int, body: ErrorJson,
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
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS,
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
            path=scope["path"][:500].replace("\x00", "\\x00"),  # PostgreSQL stores no NUL
            status=status, action=audit.get("action"), object_id=audit.get("object_id"),
            detail=audit.get("detail"), request_id=request_id)


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
        timeout = self.service.settings.body_timeout_seconds
        try:
            with anyio.fail_after(timeout):
                body = await _read(receive, limit)
        except TimeoutError:
            await _json(send, 408, {"detail": f"the request body did not arrive in full within "
                                    f"{timeout:g} s; send it again on a new connection."},
                        headers=[(b"connection", b"close")])
            return
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
        """Open an attempt for the route's key dependency to claim (`serving.idempotency`);
        record its answer afterwards."""
        if not 1 <= len(key) <= 255 or not key.isprintable():
            await _json(send, 422, {"detail": "header Idempotency-Key must be 1 to 255 "
                                    "printable characters, e.g. a UUID",
                                    "errors": [{"loc": ["header", "Idempotency-Key"],
                                                "msg": "1 to 255 printable characters",
                                                "type": "idempotency_key", "value": None}]})
            return
        attempt = idempotency.Attempt(
            key=key, lease_seconds=self.service.settings.idempotency_lease_seconds,
            digest=idempotency.request_hash(scope["method"], scope["path"],
                                            scope.get("query_string", b""), body))
        captured = _Capture(send)
        token = idempotency.opened(attempt)
        try:
            await self.app(scope, receive, captured)
        finally:
            idempotency.closed(token)
            if attempt.token is not None:
                await to_thread.run_sync(idempotency.settle, self.service.db, attempt,
                                         captured.status, captured.content_type, captured.body)


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


def _too_large(size: int | None, limit: int) -> ErrorJson:
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
