"""API keys: created once, stored only as SHA-256, listed without the key, revoked."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select

from serving.db import Database
from serving.keys import (
    KeyChecker,
    Principal,
    create_key,
    hash_key,
    list_keys,
    revoke_key,
    role_at_least,
)
from serving.tables import ApiKeyRow


def test_only_the_hash_of_a_key_is_stored(db: Database):
    info, key = create_key(db, name="erp-system", role="erp")
    assert key.startswith("cc_") and len(key) > 40
    with db.session() as session:
        row = session.scalar(select(ApiKeyRow))
        assert row is not None
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() == hash_key(key)
        stored = [str(v) for v in (row.name, row.role, row.key_hash, row.prefix)]
    assert key not in stored and info.prefix == key[:10]


def test_check_finds_the_principal_until_revoked(db: Database):
    _, key = create_key(db, name="ann", role="planner")
    checker = KeyChecker(db, ttl=0)
    principal = checker.check(key)
    assert principal is not None and principal.role == "planner"
    assert checker.check(key + "x") is None
    revoke_key(db, name="ann")
    assert checker.check(key) is None
    assert list_keys(db)[0].revoked_at is not None


def test_refuses_unknown_roles_duplicate_names_and_unknown_revocations(db: Database):
    with pytest.raises(ValueError, match="`role` must be one of"):
        create_key(db, name="x", role="root")
    create_key(db, name="x", role="erp")
    with pytest.raises(ValueError, match="exists already"):
        create_key(db, name="x", role="admin")
    with pytest.raises(KeyError, match="no API key named 'nobody'"):
        revoke_key(db, name="nobody")


def test_roles_are_ordered():
    assert role_at_least("admin", "planner") and role_at_least("planner", "erp")
    assert not role_at_least("erp", "planner") and not role_at_least("planner", "admin")


def test_cache_answers_without_the_database_until_it_expires(db: Database):
    _, key = create_key(db, name="cached", role="erp")
    checker = KeyChecker(db, ttl=60)
    assert checker.cached(key) == (False, None)
    checker.check(key)
    hit, principal = checker.cached(key)
    assert hit and principal is not None and principal.name == "cached"
    checker.forget()
    assert checker.cached(key) == (False, None)


def test_simultaneous_misses_share_one_lookup(db: Database, monkeypatch: pytest.MonkeyPatch):
    _, key = create_key(db, name="herd", role="erp")
    checker = KeyChecker(db, ttl=60)
    calls: list[str] = []
    real = checker.check

    def counted(presented: str) -> Principal | None:
        calls.append(presented)
        return real(presented)

    monkeypatch.setattr(checker, "check", counted)

    async def herd() -> list[Principal | None]:
        return await asyncio.gather(*(checker.check_shared(key) for _ in range(32)))

    found = asyncio.run(herd())
    assert len(calls) == 1 and {None if p is None else p.name for p in found} == {"herd"}
    assert checker._pending == {}  # nothing left behind
    asyncio.run(herd())  # later misses (another loop here) look up again
    assert len(calls) == 2
