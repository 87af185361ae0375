"""Keys and roles through HTTP: 401 for missing, wrong or revoked keys, 403 for a role
below the route's, both with a clear message; `X-API-Key` and `Authorization: Bearer`."""

from __future__ import annotations

import pytest

from serving.keys import create_key, revoke_key
from tests.serving.conftest import Api

FORECAST = {"series": [{"node_id": "DLR-01", "sku": "SKU-0001"}], "horizon": 2}
ALLOCATE = {"sku": "SKU-0001", "available": 30}

# (method, path, body, lowest role allowed)
ROUTES = [
    ("post", "/v1/forecasts", FORECAST, "erp"),
    ("post", "/v1/stock-risk", {"top": 3}, "erp"),
    ("get", "/v1/models/current", None, "erp"),
    ("post", "/v1/allocations", ALLOCATE, "planner"),
    ("get", "/v1/allocations", None, "planner"),
    ("post", "/v1/models/reload", None, "admin"),
    ("get", "/v1/keys", None, "admin"),
    ("get", "/v1/audit", None, "admin"),
]


def _call(api: Api, method: str, path: str, body, headers: dict[str, str]):
    kw = {"json": body} if body is not None else {}
    return getattr(api.client, method)(path, headers=headers, **kw)


@pytest.mark.parametrize(("method", "path", "body", "lowest"), ROUTES)
def test_every_route_needs_a_key_and_a_high_enough_role(api: Api, method, path, body, lowest):
    missing = _call(api, method, path, body, {})
    assert missing.status_code == 401
    assert missing.json()["detail"].startswith("missing API key")
    assert "WWW-Authenticate" in missing.headers
    wrong = _call(api, method, path, body, {"X-API-Key": "cc_not-a-key"})
    assert wrong.status_code == 401 and "invalid API key" in wrong.json()["detail"]
    order = ["erp", "planner", "admin"]
    for role in order:
        answer = _call(api, method, path, body, {"X-API-Key": api.keys[role]})
        if order.index(role) < order.index(lowest):
            assert answer.status_code == 403, (role, answer.text)
            detail = answer.json()["detail"]
            assert f"has role `{role}`" in detail and f"`{lowest}`" in detail and path in detail
        else:
            assert answer.status_code in (200, 201), (role, answer.text)


def test_bearer_token_works_like_the_header(api: Api):
    answer = api.client.post("/v1/forecasts", json=FORECAST,
                             headers={"Authorization": f"Bearer {api.keys['erp']}"})
    assert answer.status_code == 200
    basic = api.client.post("/v1/forecasts", json=FORECAST,
                            headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def test_a_revoked_key_stops_working(api: Api):
    _, key = create_key(api.service.db, name="leaving", role="erp")
    ok = api.client.post("/v1/forecasts", json=FORECAST, headers={"X-API-Key": key})
    assert ok.status_code == 200
    revoke_key(api.service.db, name="leaving")
    gone = api.client.post("/v1/forecasts", json=FORECAST, headers={"X-API-Key": key})
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]


def test_health_and_metrics_need_no_key(api: Api):
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/readyz").status_code == 200
    assert api.client.get("/metrics").status_code == 200


def test_unauthenticated_bad_input_is_401_not_422(api: Api):
    answer = api.client.post("/v1/forecasts", json={"horizon": "x"})
    assert answer.status_code == 401
