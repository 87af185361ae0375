"""Idempotency after authentication (a revoked key gets 401, never the recorded answer),
answers without secrets (a key creation's replay shows no key), and leases (a stuck record is
taken over after its lease; a write commits with its answer, so a retry never runs twice),
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from serving import idempotency
from serving.errors import ApiError
from serving.keys import create_key, hash_key
from serving.tables import AllocationRow, IdempotencyRow, utcnow
from tests.serving.conftest import Api

BODY = {"sku": "SKU-0001", "available": 30}
RAW = json.dumps(BODY).encode()
JSON = {"Content-Type": "application/json"}


def _count(api: Api, table: type) -> int:
    with api.service.db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _record(api: Api, key: str) -> IdempotencyRow:
    with api.service.db.session() as session:
        row = session.scalar(select(IdempotencyRow).where(IdempotencyRow.key == key))
        assert row is not None
        return row


def test_a_revoked_key_resending_an_old_idempotency_key_gets_401(api: Api):
    _, key = create_key(api.service.db, name="erp-soon-revoked", role="planner")
    headers = {"X-API-Key": key, "Idempotency-Key": "order-1"}
    assert api.client.post("/v1/allocations", json=BODY, headers=headers).status_code == 201
    assert api.delete("/v1/keys/erp-soon-revoked").status_code == 200
    again = api.client.post("/v1/allocations", json=BODY, headers=headers)
    assert again.status_code == 401 and "revoked" in again.json()["detail"]
    assert "idempotent-replayed" not in again.headers
    assert _count(api, AllocationRow) == 1


def test_a_role_below_the_routes_never_claims_a_key(api: Api):
    headers = {"Idempotency-Key": "not-mine"}
    for _ in range(2):
        refused = api.post("/v1/allocations", role="erp", json=BODY, headers=headers)
        assert refused.status_code == 403 and "idempotent-replayed" not in refused.headers
    assert _count(api, IdempotencyRow) == 0


def test_a_key_creations_replay_says_it_was_created_and_shows_no_key(api: Api):
    headers = {"Idempotency-Key": "new-key-1"}
    first = api.post("/v1/keys", json={"name": "erp-7", "role": "erp"}, headers=headers)
    assert first.status_code == 201 and first.json()["key"].startswith("cc_")
    secret = first.json()["key"]
    replay = api.post("/v1/keys", json={"name": "erp-7", "role": "erp"}, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    body = replay.json()
    assert body["key"] is None and "already created" in body["note"]
    assert {k: body[k] for k in ("name", "role", "prefix", "created_at")} == {
        k: first.json()[k] for k in ("name", "role", "prefix", "created_at")}
    assert secret not in (_record(api, "new-key-1").response or "")
    assert secret not in replay.text


def _stuck(api: Api, key: str, *, lease_ago: float) -> None:
    """A record claimed by an attempt that died, its lease ending `lease_ago` s ago."""
    now = utcnow()
    with api.service.db.session() as session:
        session.add(IdempotencyRow(
            owner=hash_key(api.keys["planner"]), key=key, created_at=now - timedelta(hours=1),
            request_hash=idempotency.request_hash("POST", "/v1/allocations", b"", RAW),
            token="dead-attempt", lease_until=now - timedelta(seconds=lease_ago)))


def test_a_record_stuck_past_its_lease_is_taken_over_and_the_retry_completes(api: Api):
    _stuck(api, "crashed-1", lease_ago=1)
    retry = api.post("/v1/allocations", role="planner", content=RAW,
                     headers={**JSON, "Idempotency-Key": "crashed-1"})
    assert retry.status_code == 201, retry.text
    again = api.post("/v1/allocations", role="planner", content=RAW,
                     headers={**JSON, "Idempotency-Key": "crashed-1"})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == retry.json()
    assert _count(api, AllocationRow) == 1
    row = _record(api, "crashed-1")
    assert row.status_code == 201 and row.lease_until is None


def test_a_record_within_its_lease_is_409_retry_in_a_moment(api: Api):
    _stuck(api, "running-1", lease_ago=-30)  # lease runs out in 30 s
    busy = api.post("/v1/allocations", role="planner", content=RAW,
                    headers={**JSON, "Idempotency-Key": "running-1"})
    assert busy.status_code == 409 and "retry in a moment" in busy.json()["detail"]
    assert _count(api, AllocationRow) == 0


def test_an_answer_committed_with_its_write_survives_a_crash_before_settling(
        api: Api, monkeypatch: pytest.MonkeyPatch):
    headers = {**JSON, "Idempotency-Key": "crash-after-commit"}
    with monkeypatch.context() as patched:  # the process "dies" before the answer is recorded
        patched.setattr(idempotency, "settle", lambda *_: None)
        first = api.post("/v1/allocations", role="planner", content=RAW, headers=headers)
    assert first.status_code == 201
    row = _record(api, "crash-after-commit")
    assert row.status_code == 201 and row.lease_until is None  # fenced with the allocation
    retry = api.post("/v1/allocations", role="planner", content=RAW, headers=headers)
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    assert _count(api, AllocationRow) == 1


def test_an_attempt_whose_key_was_taken_over_commits_nothing(api: Api):
    db = api.service.db
    attempt = idempotency.Attempt(key="slow-1", digest="d" * 64, lease_seconds=60)
    idempotency.claim(db, attempt, hash_key(api.keys["planner"]))
    with db.session() as session:  # a retry took the key over after the lease ran out
        row = session.get(IdempotencyRow, attempt.row_id)
        assert row is not None
        row.token = "the-retry"
    token = idempotency.opened(attempt)
    try:
        with pytest.raises(ApiError, match="took it over"), db.session() as session:
            session.add(AllocationRow(
                sku="SKU-0001", status="proposed", policy="x", available=1.0, pack_size=1,
                request={}, lines=[], model_origin="2020-01-06", created_by="slow"))
    finally:
        idempotency.closed(token)
    assert _count(api, AllocationRow) == 0
