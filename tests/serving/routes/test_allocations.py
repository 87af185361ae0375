"""Allocations over HTTP: proposed with explained lines and recorded; read and listed;
approved (then immutable) or overridden with a reason, with who and when."""

from __future__ import annotations

import pytest

from tests.serving.conftest import Api, Workspace


def _create(api: Api, **body):
    answer = api.post("/v1/allocations", role="planner", json={"sku": "SKU-0001", **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_allocation_defaults_to_the_central_stock_on_record_and_explains_lines(
        api: Api, workspace: Workspace):
    out = _create(api)
    central = workspace.central_stock.set_index("sku").loc["SKU-0001"]
    assert out["available"] == central["available"] and out["pack_size"] == central["pack_size"]
    assert out["status"] == "proposed" and out["created_by"].startswith("planner-")
    assert 0 < out["allocated"] <= out["available"]
    assert out["model_version"] == api.service.models.get().version
    assert {line["node_id"] for line in out["lines"]} == set(
        workspace.forecaster.keys.query("sku == 'SKU-0001'")["node_id"])
    for line in out["lines"]:
        assert line["allocated"] % out["pack_size"] == 0
        assert line["bound"] and line["reason"].startswith(f"{line['allocated']:g} units")
    assert out["allocated"] == sum(line["allocated"] for line in out["lines"])


def test_lines_say_whether_their_demand_mean_is_the_pooled_one(api: Api):
    ours = _create(api)
    fair = _create(api, policy="fair_share_forecast")
    model = api.service.models.get()
    channel = api.service.channel
    key = ("pooled_gate", id(channel.inventory), id(channel.nodes))
    _, gate = model.forecasts.derived(key, lambda: (None, None))
    assert gate is not None and gate.windows > 0  # the gate was computed from the model's tail
    sources = {line["demand_source"] for line in ours["lines"]}
    assert ("pooled" in sources) if gate.used else (sources == {"forecast"})
    for line in ours["lines"]:
        assert ("pooled rate" in line["reason"]) == (line["demand_source"] == "pooled")
    assert {line["demand_source"] for line in fair["lines"]} == {"forecast"}


def test_overrides_policy_and_exclusions_are_applied(api: Api):
    out = _create(api, available=60, pack_size=1, policy="fair_share_forecast",
                  exclude=["DLR-01"], max_qty={"DLR-02": 2})
    lines = {line["node_id"]: line for line in out["lines"]}
    assert out["policy"] == "fair_share_forecast" and out["available"] == 60
    assert lines["DLR-01"]["allocated"] == 0 and lines["DLR-01"]["bound"] == "excluded"
    assert lines["DLR-02"]["allocated"] <= 2
    sales = _create(api, available=60, policy="fair_share_sales")
    assert sales["policy"] == "fair_share_sales"


def test_profit_keeps_stock_central_that_units_would_ship(api: Api):
    profit = _create(api, available=5000, pack_size=1)
    units = _create(api, available=5000, pack_size=1, objective="units")
    assert profit["allocated"] < units["allocated"] <= 5000
    assert any(line["bound"] == "holding" and "holding" in line["reason"]
               for line in profit["lines"])
    assert all(line["bound"] != "holding" for line in units["lines"])


def test_get_and_list_read_what_was_recorded(api: Api):
    first = _create(api)
    second = _create(api, sku="SKU-0003", available=40)
    again = api.get(f"/v1/allocations/{first['id']}", role="planner")
    assert again.status_code == 200 and again.json() == first
    listed = api.get("/v1/allocations", role="planner", params={"sku": "SKU-0003"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == second["id"]
    everything = api.get("/v1/allocations", role="planner").json()
    assert [i["id"] for i in everything["items"]] == [second["id"], first["id"]]
    proposed = api.get("/v1/allocations", role="planner", params={"status": "approved"}).json()
    assert proposed["total"] == 0


def test_override_needs_a_reason_and_records_who_when_and_the_change(api: Api):
    out = _create(api, available=60, pack_size=1)
    url = f"/v1/allocations/{out['id']}/decision"
    no_reason = api.post(url, role="planner", json={"action": "override",
                                                    "lines": {"DLR-01": 3}})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == [
        "body", "reason"]
    answer = api.post(url, role="planner", json={
        "action": "override", "reason": "store opening", "lines": {"DLR-01": 3}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    line = next(x for x in body["lines"] if x["node_id"] == "DLR-01")
    assert line["allocated"] == 3 and line["bound"] == "override"
    assert line["proposed"] == next(x for x in out["lines"]
                                    if x["node_id"] == "DLR-01")["allocated"]
    assert "store opening" in line["reason"] and line["p_stockout_after"] is None
    assert body["status"] == "overridden" and body["decided_by"].startswith("planner-")
    decision = body["decisions"][0]
    assert decision["action"] == "override" and decision["reason"] == "store opening"
    assert decision["changes"][0]["to"] == 3 and decision["decided_at"]


def test_an_approved_allocation_is_immutable(api: Api):
    out = _create(api)
    url = f"/v1/allocations/{out['id']}/decision"
    approved = api.post(url, role="planner", json={"action": "approve"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    for body in ({"action": "approve"},
                 {"action": "override", "reason": "late", "lines": {"DLR-01": 0}}):
        again = api.post(url, role="planner", json=body)
        assert again.status_code == 409
        assert "can no longer change" in again.json()["detail"]
    assert api.get(f"/v1/allocations/{out['id']}", role="planner").json() == approved.json()


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"sku": "GHOST"}, 404, "unknown sku 'GHOST'"),
    ({"sku": "SKU-0001", "exclude": ["NOWHERE"]}, 404, "unknown node(s) 'NOWHERE'"),
    ({"sku": "SKU-0001", "min_qty": {"X1": 2}}, 404, "'X1'"),
    ({"sku": "SKU-0001", "available": -1}, 422, "greater than or equal to 0"),
    ({"sku": "SKU-0001", "policy": "random"}, 422, "channelcast"),
    ({"sku": "SKU-0001", "available": 1, "min_qty": {"DLR-01": 50}}, 422, "minimums"),
])
def test_allocation_errors(api: Api, body, status, words):
    answer = api.post("/v1/allocations", role="planner", json=body)
    assert answer.status_code == status, answer.text
    text = answer.json()["detail"] + str(answer.json().get("errors"))
    assert words in text


def test_decision_errors_name_the_allocation_and_the_lines(api: Api):
    missing = api.post("/v1/allocations/999/decision", role="planner",
                       json={"action": "approve"})
    assert missing.status_code == 404 and "allocation 999" in missing.json()["detail"]
    out = _create(api, available=30, pack_size=6)
    url = f"/v1/allocations/{out['id']}/decision"
    unknown = api.post(url, role="planner", json={"action": "override", "reason": "r",
                                                  "lines": {"NOPE": 6}})
    assert unknown.status_code == 404 and "'NOPE'" in unknown.json()["detail"]
    pack = api.post(url, role="planner", json={"action": "override", "reason": "r",
                                               "lines": {"DLR-01": 5}})
    assert pack.status_code == 422 and "multiples of the pack size 6" in pack.json()["detail"]
    over = api.post(url, role="planner", json={"action": "override", "reason": "r",
                                               "lines": {"DLR-01": 60}})
    assert over.status_code == 422 and "only 30 are available" in over.json()["detail"]
    assert api.get("/v1/allocations/abc", role="planner").status_code == 422
