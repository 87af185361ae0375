"""What the planner page reads: who am I, nodes with regions, skus with central stock,
recent sell-through, one series' history and forecast, and the preview of edited lines."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from tests.serving.conftest import Api, Workspace


def test_me_names_the_key_and_its_role(api: Api):
    me = api.get("/v1/me", role="planner")
    assert me.status_code == 200 and me.json()["role"] == "planner"
    assert api.get("/v1/me", role=None).status_code == 401


def test_nodes_carry_channel_and_region_from_the_node_table(api: Api, workspace: Workspace):
    nodes = {n["node_id"]: n for n in api.get("/v1/nodes", role="erp").json()["nodes"]}
    table = workspace.nodes.set_index("node_id")
    assert set(nodes) == set(table.index.astype(str))
    for node_id, n in nodes.items():
        assert n["channel"] == str(table.loc[node_id, "channel"])
        up, seen = node_id, 0  # walk to the root by hand
        while pd.notna(table.loc[up, "parent_id"]) and str(table.loc[up, "parent_id"]):
            up, seen = str(table.loc[up, "parent_id"]), seen + 1
        assert n["region"] == (up if seen else None)


def test_skus_list_the_central_stock_on_record(api: Api, workspace: Workspace):
    skus = {s["sku"]: s for s in api.get("/v1/skus", role="erp").json()["skus"]}
    assert set(skus) == set(workspace.forecaster.keys["sku"])
    central = workspace.central_stock.set_index("sku")
    for sku, s in skus.items():
        assert s["available"] == central.loc[sku, "available"]
        assert s["series"] == int((workspace.forecaster.keys["sku"] == sku).sum())


def test_recent_sell_through_is_the_history_of_the_last_periods(api: Api,
                                                                 workspace: Workspace):
    f = workspace.forecaster
    key = f.keys.iloc[0]
    out = api.post("/v1/series/recent", role="erp", json={
        "series": [{"node_id": key["node_id"], "sku": key["sku"]}], "periods": 8}).json()
    s = out["series"][0]
    assert len(s["dates"]) == 8 and s["dates"][-1] == f"{f.origin:%Y-%m-%d}"
    h = workspace.history
    mine = h[(h["node_id"] == key["node_id"]) & (h["sku"] == key["sku"])].copy()
    mine["date"] = pd.to_datetime(mine["date"]).dt.strftime("%Y-%m-%d")
    by_date = mine.set_index("date")["units"]
    assert s["units"] == [None if d not in by_date.index else float(by_date[d])
                          for d in s["dates"]]
    unknown = api.post("/v1/series/recent", role="erp", json={
        "series": [{"node_id": "NOPE", "sku": "X"}]})
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["detail"]


def test_series_view_has_history_forecast_band_model_and_backtest_error(api: Api,
                                                                        workspace: Workspace):
    f = workspace.forecaster
    key = f.keys.iloc[1]
    out = api.get(f"/v1/series/{key['node_id']}/{key['sku']}", role="erp",
                  params={"history": 20})
    assert out.status_code == 200, out.text
    s = out.json()
    assert len(s["history"]) <= 20 and s["history"][-1]["date"] <= s["origin"]
    assert len(s["forecast"]) == f.horizon
    expected = f.predict(f.keys.iloc[[1]], quantiles=[0.1, 0.9])
    assert [p["mean"] for p in s["forecast"]] == pytest.approx(expected["mean"].tolist())
    assert all(p["lo"] <= p["mean"] + 1e-9 or p["lo"] <= p["hi"] for p in s["forecast"])
    assert s["model"] == f.chosen[1] and s["period"] == "week"
    assert f.errors is not None  # the workspace's forecaster was backtested
    assert s["backtest"]["mae_scaled"] == pytest.approx(f.errors["mae_scaled"].iloc[1],
                                                        nan_ok=True)
    stock = [p for p in s["history"] if p["on_hand"] is not None]
    assert all(p["stockout"] == (p["on_hand"] <= 0) for p in stock)
    assert api.get("/v1/series/NOPE/X", role="erp").status_code == 404
    assert api.get(f"/v1/series/{key['node_id']}/{key['sku']}", role="erp",
                   params={"history": 0}).status_code == 422


def test_preview_gives_the_stockout_effect_of_edited_lines_without_recording(api: Api):
    made = api.post("/v1/allocations", role="planner",
                    json={"sku": "SKU-0001", "available": 60, "pack_size": 1})
    assert made.status_code == 201, made.text
    out = made.json()
    lines = {line["node_id"]: line for line in out["lines"]}
    same = api.post(f"/v1/allocations/{out['id']}/preview", role="planner",
                    json={"lines": {}}).json()
    for p in same["lines"]:  # unchanged lines: the proposal's own numbers
        assert p["p_stockout_after"] == pytest.approx(lines[p["node_id"]]["p_stockout_after"])
        assert p["position_after"] == pytest.approx(lines[p["node_id"]]["position_after"])
        assert (p["bound"], p["reason"]) == (lines[p["node_id"]]["bound"],
                                             lines[p["node_id"]]["reason"])
    given = [n for n in lines if lines[n]["allocated"] > 0]  # setting one to 0 is an edit
    node = max(given, key=lambda n: lines[n]["p_stockout_before"])
    more = api.post(f"/v1/allocations/{out['id']}/preview", role="planner",
                    json={"lines": {node: lines[node]["allocated"] + 30}}).json()
    less = api.post(f"/v1/allocations/{out['id']}/preview", role="planner",
                    json={"lines": {node: 0}}).json()
    p = {x["node_id"]: x for x in more["lines"]}[node]["p_stockout_after"]
    q = {x["node_id"]: x for x in less["lines"]}[node]["p_stockout_after"]
    assert p <= lines[node]["p_stockout_after"] + 1e-12 <= q + 1e-12
    assert np.isclose(q, lines[node]["p_stockout_before"])
    edited = {x["node_id"]: x for x in less["lines"]}[node]  # the explanation follows the edit
    assert edited["bound"] == "override"
    position = lines[node]["position_before"]
    assert re.fullmatch(
        rf"Overridden by planner-\w+: 0 units; position {position:g} -> {position:g}; "
        rf"stock-out risk {lines[node]['p_stockout_before']:.0%} -> {q:.0%} "
        rf"\(proposal {lines[node]['allocated']:g}: {re.escape(lines[node]['reason'])}\)",
        edited["reason"]), edited["reason"]
    assert more["allocated"] == pytest.approx(out["allocated"] + 30)
    again = api.get(f"/v1/allocations/{out['id']}", role="planner").json()
    assert again == out  # nothing recorded
    assert api.post(f"/v1/allocations/{out['id']}/preview", role="planner",
                    json={"lines": {"NOPE": 1}}).status_code == 404
    assert api.post(f"/v1/allocations/{out['id']}/preview", role="planner",
                    json={"lines": {node: -1}}).status_code == 422
    assert api.post(f"/v1/allocations/{out['id']}/preview", role="erp",
                    json={"lines": {}}).status_code == 403
    assert api.post("/v1/allocations/999999/preview", role="planner",
                    json={"lines": {}}).status_code == 404


def test_the_page_is_served_offline_from_the_package(api: Api):
    page = api.client.get("/ui/")
    assert page.status_code == 200 and "channelcast" in page.text
    for asset in ("app.js", "chart.js", "app.css"):
        got = api.client.get(f"/ui/{asset}")
        assert got.status_code == 200 and len(got.content) > 1000
    assert "http://" not in page.text and "https://" not in page.text
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/ui/"
