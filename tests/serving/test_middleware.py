"""Idempotent POSTs (same key and body: the recorded answer; other body: 409), the request
size limit (413) and request ids."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.app import create_app
from serving.keys import create_key
from serving.settings import Settings
from serving.tables import AllocationRow
from tests.serving.conftest import Api

BODY = {"sku": "SKU-0001", "available": 30}


def _allocations(api: Api) -> int:
    with api.service.db.session() as session:
        return session.execute(select(func.count()).select_from(AllocationRow)).scalar_one()


def test_same_key_and_body_get_the_recorded_answer_once(api: Api):
    headers = {"Idempotency-Key": "order-42"}
    first = api.post("/v1/allocations", role="planner", json=BODY, headers=headers)
    assert first.status_code == 201
    again = api.post("/v1/allocations", role="planner", json=BODY, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _allocations(api) == 1


def test_same_key_with_another_body_is_409(api: Api):
    headers = {"Idempotency-Key": "order-43"}
    assert api.post("/v1/allocations", role="planner", json=BODY,
                    headers=headers).status_code == 201
    other = api.post("/v1/allocations", role="planner", json={**BODY, "available": 31},
                     headers=headers)
    assert other.status_code == 409
    assert "used before with a different request" in other.json()["detail"]
    assert _allocations(api) == 1


def test_keys_are_per_caller_and_errors_are_recorded_too(api: Api):
    headers = {"Idempotency-Key": "shared"}
    mine = api.post("/v1/allocations", role="planner", json=BODY, headers=headers)
    theirs = api.post("/v1/allocations", role="admin", json=BODY, headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    bad = {"Idempotency-Key": "bad-1"}
    first = api.post("/v1/allocations", role="planner", json={"sku": "GHOST"}, headers=bad)
    second = api.post("/v1/allocations", role="planner", json={"sku": "GHOST"}, headers=bad)
    assert first.status_code == second.status_code == 404
    assert second.headers.get("idempotent-replayed") == "true"


def test_refused_keys_are_not_remembered(api: Api):
    headers = {"Idempotency-Key": "k-401", "X-API-Key": "cc_wrong"}
    assert api.client.post("/v1/allocations", json=BODY, headers=headers).status_code == 401
    headers["X-API-Key"] = api.keys["planner"]
    assert api.client.post("/v1/allocations", json=BODY, headers=headers).status_code == 201


def test_a_bad_idempotency_key_is_422(api: Api):
    answer = api.post("/v1/allocations", role="planner", json=BODY,
                      headers={"Idempotency-Key": "x" * 300})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_bodies_over_the_limit_are_413(settings: Settings):
    app = create_app(replace(settings, max_body_bytes=2_000))
    with TestClient(app) as client:
        _, key = create_key(app.state.service.db, name="e", role="erp")
        series = [{"node_id": "DLR-01", "sku": f"SKU-{i:04d}"} for i in range(1, 101)]
        big = client.post("/v1/forecasts", json={"series": series},
                          headers={"X-API-Key": key})
        assert big.status_code == 413
        assert "limit is 2,000 bytes" in big.json()["detail"]
        chunked = client.post("/v1/forecasts", headers={"X-API-Key": key},
                              content=iter([b"{" + b" " * 1500, b" " * 1500 + b"}"]))
        assert chunked.status_code == 413
        small = client.post("/v1/forecasts", json={"series": series[:1]},
                            headers={"X-API-Key": key})
        assert small.status_code == 200


def test_every_answer_carries_a_request_id(api: Api):
    assert len(api.client.get("/healthz").headers["x-request-id"]) == 16
    echoed = api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
