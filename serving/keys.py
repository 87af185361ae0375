"""API keys and roles: create (the key is shown once), list, revoke, and check a key.

Only the SHA-256 of a key is stored; a key is 256 random bits, so a plain hash is as strong as
a slow one against guessing and costs microseconds per request. Roles are ordered:
`erp` < `planner` < `admin`; a role may do everything the roles below it may.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from serving.db import Database
from serving.tables import ApiKeyRow, as_utc, utcnow

__all__ = ["KEY_NAME_MAX", "ROLES", "KeyChecker", "KeyInfo", "Principal", "create_key",
           "hash_key", "list_keys", "revoke_key", "role_at_least"]

ROLES = ("erp", "planner", "admin")
KEY_NAME_MAX = 100  # characters of a key's name (the api_keys.name column holds 100)
_PREFIX = "cc_"


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the key's name and role."""

    name: str
    role: str


@dataclass(frozen=True)
class KeyInfo:
    """A stored key as listed (never the key itself)."""

    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def role_at_least(role: str, needed: str) -> bool:
    """Whether `role` may do what `needed` may."""
    return ROLES.index(role) >= ROLES.index(needed)


def hash_key(key: str) -> str:
    """The SHA-256 (hex) under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"`role` must be one of {', '.join(ROLES)}; got {role!r}.")


def create_key(db: Database, *, name: str, role: str) -> tuple[KeyInfo, str]:
    """Store a new key for `name` with `role`; returns its record and the key (shown once).

    Raises:
        ValueError: unknown role, empty name, or a key of that name exists already.
    """
    _check_role(role)
    name = name.strip()
    if not name or len(name) > KEY_NAME_MAX:
        raise ValueError(f"`name` must be 1 to {KEY_NAME_MAX} characters; got {name!r}.")
    key = _PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        if session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name)) is not None:
            raise ValueError(f"a key named {name!r} exists already; revoke it or pick another "
                             "name.")
        row = ApiKeyRow(name=name, role=role, key_hash=hash_key(key), prefix=key[:10],
                        created_at=utcnow())
        session.add(row)
        session.flush()
        info = _info(row)
    return info, key


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(name=row.name, role=row.role, prefix=row.prefix,
                   created_at=as_utc(row.created_at) or utcnow(),
                   revoked_at=as_utc(row.revoked_at))


def list_keys(db: Database) -> list[KeyInfo]:
    """Every key ever created, oldest first (revoked ones say when)."""
    with db.session() as session:
        return [_info(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


def revoke_key(db: Database, *, name: str) -> KeyInfo:
    """Revoke the key named `name` (the service's other workers drop their cached keys at
    their next database poll: `serving.service.Service.sync_once`).

    Raises:
        KeyError: no key of that name.
    """
    with db.session() as session:
        row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
        if row is None:
            raise KeyError(f"no API key named {name!r}; `channelcast keys list` shows them.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _info(row)


class KeyChecker:
    """Looks keys up by hash, remembering answers for `ttl` seconds (0 = always ask).

    `forget` (after a revocation here, or one seen in the database's change feed) drops every
    cached answer and every lookup in flight: a lookup that read the database before it is
    neither cached nor shared with requests that arrive after it.
    """

    def __init__(self, db: Database, *, ttl: float) -> None:
        self.db = db
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}
        self._generation = 0

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(hit, principal) from the cache only; no database access."""
        if self.ttl <= 0:
            return False, None
        entry = self._cache.get(hash_key(key))
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def check(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise."""
        digest = hash_key(key)
        generation = self._generation
        with self.db.session() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
            found = (Principal(row.name, row.role)
                     if row is not None and row.revoked_at is None else None)
        if self.ttl > 0:
            with self._lock:
                if generation != self._generation:  # forgotten meanwhile: maybe stale
                    return found
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (time.monotonic() + self.ttl, found)
        return found

    async def check_shared(self, key: str) -> Principal | None:
        """`check` in a worker thread, once for all requests that present the same key
        meanwhile: when a cached answer expires under load, every request in flight missed
        it at once and 32 simultaneous lookups stalled the event loop for ~90 ms."""
        digest = hash_key(key)
        loop = asyncio.get_running_loop()
        pending = self._pending.get(digest)
        if pending is None or pending.get_loop() is not loop:
            pending = asyncio.ensure_future(run_in_threadpool(self.check, key))
            self._pending[digest] = pending
            pending.add_done_callback(lambda done: self._pending.pop(digest, None)
                                      if self._pending.get(digest) is done else None)
        return await asyncio.shield(pending)

    def forget(self) -> None:
        """Drop every cached answer and lookup in flight (after a key was revoked)."""
        with self._lock:
            self._generation += 1
            self._cache.clear()
            self._pending.clear()
