"""The served model (current, reload to a new champion), keys over HTTP, the audit log."""

from __future__ import annotations

from mlflow import MlflowClient

from tests.serving.conftest import MODEL_NAME, Api, Workspace


def test_current_model_names_version_origin_and_horizon(api: Api, workspace: Workspace):
    body = api.get("/v1/models/current", role="erp").json()
    f = workspace.forecaster
    assert body["model_name"] == MODEL_NAME and body["model_uri"] == workspace.model_uri
    assert body["origin"] == body["origin_at_load"] == f"{f.origin:%Y-%m-%d}"
    assert body["horizon"] == f.horizon and body["series"] == len(f.keys)
    assert body["freq"] == "W-MON" and "lgbm" in body["models"]


def test_reload_swaps_in_the_new_champion(api: Api, workspace: Workspace):
    client = MlflowClient(tracking_uri=workspace.tracking_uri,
                          registry_uri=workspace.tracking_uri)
    before = api.get("/v1/models/current", role="erp").json()["model_version"]
    source = client.get_model_version(MODEL_NAME, before)
    assert source.source is not None
    fresh = client.create_model_version(MODEL_NAME, source=source.source,
                                        run_id=source.run_id)
    client.set_registered_model_alias(MODEL_NAME, "champion", fresh.version)
    answer = api.post("/v1/models/reload", role="admin")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == str(fresh.version) and body["previous_version"] == before
    assert api.get("/v1/models/current", role="erp").json()["model_version"] == str(
        fresh.version)
    forecast = api.post("/v1/forecasts", role="erp", json={
        "series": [{"node_id": "DLR-01", "sku": "SKU-0001"}]}).json()
    assert forecast["model_version"] == str(fresh.version)


def test_keys_are_managed_by_admins_over_http(api: Api):
    created = api.post("/v1/keys", json={"name": "wms", "role": "erp"})
    assert created.status_code == 201
    key = created.json()["key"]
    ok = api.client.get("/v1/models/current", headers={"X-API-Key": key})
    assert ok.status_code == 200
    listed = api.get("/v1/keys").json()
    assert "wms" in {k["name"] for k in listed} and all("key" not in k for k in listed)
    assert api.post("/v1/keys", json={"name": "wms", "role": "erp"}).status_code == 409
    revoked = api.delete("/v1/keys/wms")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.client.get("/v1/models/current", headers={"X-API-Key": key}).status_code == 401
    assert api.delete("/v1/keys/nobody").status_code == 404
    assert api.post("/v1/keys", role="planner", json={"name": "x", "role": "admin"}
                    ).status_code == 403


def test_audit_log_records_who_did_what(api: Api):
    allocation = api.post("/v1/allocations", role="planner",
                          json={"sku": "SKU-0001", "available": 30}).json()
    api.post(f"/v1/allocations/{allocation['id']}/decision", role="planner",
             json={"action": "approve"})
    api.post("/v1/models/reload", role="planner")  # refused: audited too
    api.post("/v1/forecasts", role="erp", json={
        "series": [{"node_id": "DLR-01", "sku": "SKU-0001"}]})  # a query: not audited
    entries = api.get("/v1/audit").json()
    actions = [(e["action"], e["status"], e["role"]) for e in entries]
    assert actions[:3] == [(None, 403, "planner"), ("allocation.approve", 200, "planner"),
                           ("allocation.create", 201, "planner")]
    assert entries[1]["object_id"] == str(allocation["id"])
    assert all(e["path"] != "/v1/forecasts" for e in entries)
