"""Stock risk, inventory snapshots and new sell-through over HTTP.

Sell-through rolls the model forward: the service then answers exactly what
`Forecaster.update(rows)` answers, from the new origin, and nothing is applied when any row
is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.serving.conftest import Api, Workspace
from tests.serving.payloads import inventory_rows, json_rows

# --- stock risk -------------------------------------------------------------------------------

def test_stock_risk_ranks_by_expected_lost_value_and_filters(api: Api):
    everything = api.post("/v1/stock-risk", role="erp", json={"top": 100}).json()
    rows = everything["rows"]
    assert everything["total"] == len(rows) > 0 and [r["rank"] for r in rows] == list(
        range(1, len(rows) + 1))
    values = [r["expected_lost_value"] or 0 for r in rows]
    assert values == sorted(values, reverse=True)
    dealers = api.post("/v1/stock-risk", role="erp", json={"channel": "dealer", "top": 2})
    body = dealers.json()
    assert len(body["rows"]) == 2 and {r["channel"] for r in body["rows"]} == {"dealer"}
    assert body["total"] >= 2
    one = api.post("/v1/stock-risk", role="erp", json={"nodes": ["DLR-01"],
                                                       "skus": ["SKU-0002"]}).json()
    assert [(r["node_id"], r["sku"]) for r in one["rows"]] == [("DLR-01", "SKU-0002")]
    critical = api.post("/v1/stock-risk", role="erp",
                        json={"risk_class": ["critical"], "top": 100}).json()
    assert {r["risk_class"] for r in critical["rows"]} <= {"critical"}
    classes = api.post("/v1/stock-risk", role="erp",
                       json={"demand_class": ["no-such-class"]}).json()
    assert classes["total"] == 0 and classes["rows"] == []


@pytest.mark.parametrize(("body", "words"), [
    ({"nodes": ["NOWHERE"]}, "unknown node(s) 'NOWHERE'"),
    ({"skus": ["GHOST"]}, "unknown sku(s) 'GHOST'"),
])
def test_stock_risk_names_unknown_nodes_and_skus(api: Api, body, words):
    answer = api.post("/v1/stock-risk", role="erp", json=body)
    assert answer.status_code == 404 and words in answer.json()["detail"]


def test_stock_risk_bad_filters_are_422(api: Api):
    answer = api.post("/v1/stock-risk", role="erp", json={"top": 0, "risk_class": ["red"]})
    assert answer.status_code == 422
    assert {tuple(e["loc"][:2]) for e in answer.json()["errors"]} == {
        ("body", "top"), ("body", "risk_class")}


# --- inventory --------------------------------------------------------------------------------

def test_inventory_snapshot_is_used_by_later_answers(api: Api, workspace: Workspace):
    rows = inventory_rows(workspace)
    for r in rows:
        r["on_hand"], r["in_transit"] = 0.0, 0.0
        r.pop("min_qty", None)
    answer = api.put("/v1/inventory", role="erp", json={
        "inventory": rows, "central_stock": [{"sku": "SKU-0001", "available": 7}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == len(rows) and answer.json()["central_stock_rows"] == 1
    risk = api.post("/v1/stock-risk", role="erp", json={"top": 100}).json()
    assert all(r["position"] == 0 for r in risk["rows"])
    assert risk["inventory_as_of"].startswith(f"snapshot {answer.json()['snapshot_id']}")
    allocation = api.post("/v1/allocations", role="planner", json={"sku": "SKU-0001"})
    assert allocation.status_code == 201, allocation.text
    allocation = allocation.json()
    assert allocation["available"] == 7 and allocation["pack_size"] == 1


def test_inventory_rows_are_checked_by_the_data_contract_all_or_nothing(
        api: Api, workspace: Workspace):
    rows = inventory_rows(workspace)
    rows[1]["on_hand"] = -3.0
    rows[2]["min_qty"], rows[2]["max_qty"] = 9.0, 2.0
    rows.append(dict(rows[0]))
    answer = api.put("/v1/inventory", role="erp", json={"inventory": rows})
    assert answer.status_code == 422
    errors = {tuple(e["loc"]): e for e in answer.json()["errors"]}
    assert errors[("body", "inventory", 1, "on_hand")]["type"] == "below_minimum"
    assert "negative" in errors[("body", "inventory", 1, "on_hand")]["msg"]
    assert errors[("body", "inventory", 2, "max_qty")]["type"] == "min_above_max"
    dup = [e for loc, e in errors.items() if loc[2] == len(rows) - 1]
    assert dup and dup[0]["type"] == "duplicate_key"
    assert "nothing was applied" in answer.json()["detail"]
    assert api.service.channel.snapshot_id == 0


def test_inventory_of_unknown_nodes_is_404_naming_them(api: Api, workspace: Workspace):
    rows = inventory_rows(workspace)[:2]
    rows[0]["node_id"] = "DLR-99"
    answer = api.put("/v1/inventory", role="erp", json={"inventory": rows})
    assert answer.status_code == 404 and "'DLR-99'" in answer.json()["detail"]
    assert answer.json()["errors"][0]["loc"] == ["body", "inventory", 0, "node_id"]


def test_inventory_schema_errors_are_422_with_paths(api: Api):
    answer = api.put("/v1/inventory", role="erp", json={"inventory": [
        {"node_id": "DLR-01", "sku": "SKU-0001", "on_hand": "many", "in_transit": 0,
         "as_of": "yesterday"}]})
    assert answer.status_code == 422
    locs = {tuple(e["loc"]) for e in answer.json()["errors"]}
    assert {("body", "inventory", 0, "on_hand"), ("body", "inventory", 0, "as_of")} <= locs


# --- sell-through ---------------------------------------------------------------------------

def test_sell_through_rolls_the_model_forward_like_forecaster_update(
        api: Api, workspace: Workspace):
    before = api.get("/v1/models/current", role="erp").json()
    answer = api.post("/v1/sell-through", role="erp", json={"rows": json_rows(workspace.new_rows)})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    rolled = workspace.forecaster.update(workspace.new_rows)
    assert body["origin_before"] == before["origin"]
    assert body["origin_after"] == f"{rolled.origin:%Y-%m-%d}" > before["origin"]
    series = workspace.forecaster.keys[["node_id", "sku"]].astype(str).head(5)
    got = api.post("/v1/forecasts", role="erp", json={
        "series": series.to_dict("records"), "quantiles": [0.1, 0.9]}).json()
    expected = rolled.predict(series, quantiles=[0.1, 0.9])
    assert got["origin"] == body["origin_after"]
    assert [r["date"] for r in got["rows"]] == [f"{d:%Y-%m-%d}" for d in expected["date"]]
    assert [r["mean"] for r in got["rows"]] == pytest.approx(expected["mean"].tolist())
    assert [r["quantiles"]["q0.9"] for r in got["rows"]] == pytest.approx(
        expected["q0.9"].tolist())
    current = api.get("/v1/models/current", role="erp").json()
    assert current["sell_through_batches"] == 1 and current["origin"] == body["origin_after"]
    assert current["model_version"] == before["model_version"]  # no retraining
    again = api.post("/v1/sell-through", role="erp", json={"rows": json_rows(workspace.new_rows)})
    assert again.status_code == 422 and "not after the model's last period" in \
        again.json()["detail"]


def test_one_bad_row_refuses_the_whole_batch(api: Api, workspace: Workspace):
    rows = json_rows(workspace.new_rows)
    rows[3]["units"] = -2
    rows[5]["date"] = "2024-02-14"  # a Wednesday: off the weekly grid
    answer = api.post("/v1/sell-through", role="erp", json={"rows": rows})
    assert answer.status_code == 422
    errors = {tuple(e["loc"]): e for e in answer.json()["errors"]}
    assert errors[("body", "rows", 3, "units")]["type"] == "below_minimum"
    assert errors[("body", "rows", 5, "date")]["type"] == "off_grid_date"
    current = api.get("/v1/models/current", role="erp").json()
    assert current["sell_through_batches"] == 0
    assert current["origin"] == f"{workspace.forecaster.origin:%Y-%m-%d}"


def test_sell_through_for_unknown_series_or_old_periods(api: Api, workspace: Workspace):
    rows = json_rows(workspace.new_rows.head(2))
    rows[0]["sku"] = "SKU-9999"
    unknown = api.post("/v1/sell-through", role="erp", json={"rows": rows})
    assert unknown.status_code == 404 and "(DLR-01, SKU-9999)" in unknown.json()["detail"]
    old = json_rows(workspace.history.head(1).assign(date=pd.to_datetime(
        workspace.history.head(1)["date"])))
    stale = api.post("/v1/sell-through", role="erp", json={"rows": old})
    assert stale.status_code == 422
    assert stale.json()["errors"][0]["loc"] == ["body", "rows", 0, "date"]
    node = json_rows(workspace.new_rows.head(1))
    node[0]["node_id"] = "NOWHERE"
    missing = api.post("/v1/sell-through", role="erp", json={"rows": node})
    assert missing.status_code == 404 and "'NOWHERE'" in missing.json()["detail"]
