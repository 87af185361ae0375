"""Alerts over HTTP: computed when sell-through arrives, their lifecycle (open ->
acknowledged -> closed), filters, roles, the Prometheus gauge, and the health index.

The detectors are replaced by a script (which alerts each period has), so these tests pin
the service's part: storage, dedup through `update_alerts`, lifecycle, HTTP."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.monitor import AlertMonitor
from tests.serving.conftest import Api, Workspace
from tests.serving.payloads import alert_row, json_rows, script_detection


def _monitor(api: Api) -> AlertMonitor:
    monitor: AlertMonitor = api.client.app.state.monitor  # type: ignore[attr-defined]
    return monitor


def _post_week(api: Api, rows: pd.DataFrame) -> None:
    posted = api.post("/v1/sell-through", role="erp", json={"rows": json_rows(rows)})
    assert posted.status_code == 201
    _monitor(api).join()


def test_alert_lifecycle_open_acknowledge_extend_close(api: Api, workspace: Workspace,
                                                       monkeypatch: pytest.MonkeyPatch):
    weeks = sorted(workspace.new_rows["date"].unique())
    w1, w2 = (pd.Timestamp(w) for w in weeks[:2])
    node, sku = workspace.new_rows[["node_id", "sku"]].iloc[0]
    other = workspace.nodes["node_id"].iloc[-1]
    drop = alert_row("demand_drop", node, sku, w1, w1)
    calls = script_detection(monkeypatch, {
        w1.date(): [drop, alert_row("reporting_gap", other, "", w1, w1, "medium")],
        w2.date(): [{**drop, "period_end": w2, "severity": "critical"}]})

    _post_week(api, workspace.new_rows[workspace.new_rows["date"] == w1])
    listed = api.get("/v1/alerts", role="erp").json()
    assert listed["as_of"] == f"{w1:%Y-%m-%d}" and listed["total"] == 2
    assert {a["status"] for a in listed["alerts"]} == {"open"}
    assert max(d for d, _ in calls) == w1.date()
    assert all(pd.to_datetime(st["date"]).max() >= w1 for _, st in calls)
    first = next(a for a in listed["alerts"] if a["kind"] == "demand_drop")
    gap = next(a for a in listed["alerts"] if a["kind"] == "reporting_gap")
    assert gap["sku"] == "" and first["channel"] is not None

    erp_ack = api.post(f"/v1/alerts/{first['alert_id']}/ack", role="erp", json={"note": "x"})
    assert erp_ack.status_code == 403
    acked = api.post(f"/v1/alerts/{first['alert_id']}/ack", role="planner",
                     json={"note": "called the dealer"})
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert body["status"] == "acknowledged" and body["ack_note"] == "called the dealer"
    assert body["acknowledged_by"].startswith("planner-") and body["ack_at"]

    _post_week(api, workspace.new_rows[workspace.new_rows["date"] == w2])
    now = {a["alert_id"]: a for a in api.get("/v1/alerts", role="erp").json()["alerts"]}
    assert len(now) == 2  # extended, not duplicated
    kept = now[first["alert_id"]]
    assert kept["status"] == "acknowledged" and kept["period_end"] == f"{w2:%Y-%m-%d}"
    assert kept["period_start"] == f"{w1:%Y-%m-%d}" and kept["severity"] == "critical"
    closed = now[gap["alert_id"]]
    assert closed["status"] == "closed" and closed["closed_at"]
    again = api.post(f"/v1/alerts/{gap['alert_id']}/ack", role="planner", json={"note": ""})
    assert again.status_code == 409 and "closed" in again.json()["detail"]
    assert api.post("/v1/alerts/99999/ack", role="planner", json={}).status_code == 404

    _monitor(api).run(w2.date(), trigger="test: same period again")  # idempotent
    assert api.get("/v1/alerts", role="erp").json()["total"] == 2


def test_alert_filters_and_the_open_alerts_gauge(api: Api, workspace: Workspace,
                                                monkeypatch: pytest.MonkeyPatch):
    w1 = pd.Timestamp(sorted(workspace.new_rows["date"].unique())[0])
    nodes = workspace.nodes["node_id"].tolist()
    script_detection(monkeypatch, {w1.date(): [
        alert_row("demand_drop", nodes[-1], "SKU-X", w1, w1, "low"),
        alert_row("stock_mismatch", nodes[-2], "SKU-Y", w1, w1, "critical"),
        alert_row("channel_stuffing", nodes[-2], "", w1, w1, "high")]})
    _post_week(api, workspace.new_rows[workspace.new_rows["date"] == w1])

    def ids(**params: str) -> list[str]:
        answer = api.get("/v1/alerts", role="erp", params=params)
        assert answer.status_code == 200, answer.text
        return [a["kind"] for a in answer.json()["alerts"]]

    assert ids() == ["stock_mismatch", "channel_stuffing", "demand_drop"]  # most severe first
    assert ids(kind="demand_drop") == ["demand_drop"]
    assert ids(severity="critical") == ["stock_mismatch"]
    assert sorted(ids(node_id=nodes[-2])) == ["channel_stuffing", "stock_mismatch"]
    assert ids(status="closed") == [] and ids(since="2199-01-01") == []
    channel = workspace.nodes.set_index("node_id").loc[nodes[-1], "channel"]
    assert "demand_drop" in ids(channel=channel)
    assert api.get("/v1/alerts", role="erp", params={"kind": "nope"}).status_code == 422
    assert api.get("/v1/alerts", role=None).status_code == 401

    text = api.get("/metrics", role=None).text
    assert 'channelcast_alerts_open{kind="stock_mismatch",severity="critical"} 1.0' in text
    assert 'channelcast_alerts_open{kind="demand_spike",severity="low"} 0.0' in text


def test_inventory_snapshot_runs_detection_with_its_stock(api: Api, workspace: Workspace,
                                                         monkeypatch: pytest.MonkeyPatch):
    calls = script_detection(monkeypatch, {})
    last = pd.Timestamp(workspace.forecaster.origin)
    inv = workspace.inventory.head(3)
    rows = [{"node_id": r.node_id, "sku": r.sku, "on_hand": 123456.0, "in_transit": 0.0,
             "as_of": f"{last + pd.Timedelta(days=2):%Y-%m-%d}"} for r in inv.itertuples()]
    assert api.put("/v1/inventory", role="erp", json={"inventory": rows}).status_code == 200
    _monitor(api).join()
    assert [d for d, _ in calls] == [last.date()]
    seen = calls[0][1]
    at = seen[(pd.to_datetime(seen["date"]) == last) & (seen["node_id"] == inv["node_id"].iloc[0])
              & (seen["sku"] == inv["sku"].iloc[0])]
    assert len(at) == 1 and at["on_hand"].iloc[0] in (123456.0, *workspace.history["on_hand"])


def test_health_index_ranks_nodes_with_components(api: Api, workspace: Workspace):
    answer = api.get("/v1/health", role="erp")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["level"] == "node" and body["rows"]
    scores = [r["score"] for r in body["rows"]]
    assert scores == sorted(scores)  # least healthy first
    first = body["rows"][0]
    assert first["rank"] == 1 and first["grade"] in "ABCDE" and first["explanation"]
    assert [c["name"] for c in first["components"]][:2] == ["growth_vs_forecast",
                                                              "sell_through_rate"]
    months = [p["month"] for p in first["trend"]]
    assert len(months) == 6 and months == sorted(months) and months[-1] == body["month"]
    assert first["trend"][-1]["score"] == first["score"]
    contributions = sum(c["contribution"] or 0 for c in first["components"])
    assert abs(contributions - first["score"]) < 0.1
    earlier = first["trend"][-2]["month"]
    assert api.get("/v1/health", role="erp", params={"month": earlier}).json()["month"] == earlier
    assert api.get("/v1/health", role="erp", params={"month": "1990-01"}).status_code == 404
    channels = api.get("/v1/health", role="erp", params={"level": "channel"}).json()
    assert channels["level"] == "channel" and channels["rows"]
    assert {r["id"] for r in channels["rows"]} <= set(workspace.nodes["channel"])
    assert api.get("/v1/health", role="erp", params={"month": "2026-13"}).status_code == 422
    assert api.get("/v1/health", role="erp", params={"level": "x"}).status_code == 422


def test_the_real_detectors_run_on_what_the_service_holds(api: Api, workspace: Workspace):
    week = workspace.new_rows[workspace.new_rows["date"] == workspace.new_rows["date"].min()]
    _post_week(api, week)
    listed = api.get("/v1/alerts", role="erp").json()
    assert listed["as_of"] == f"{week['date'].iloc[0]:%Y-%m-%d}", listed
    assert all(a["period_end"] == listed["as_of"] for a in listed["alerts"])


def test_a_period_past_the_data_held_is_not_run(api: Api, workspace: Workspace,
                                               monkeypatch: pytest.MonkeyPatch):
    calls = script_detection(monkeypatch, {})
    later = (pd.Timestamp(workspace.forecaster.origin) + pd.Timedelta(weeks=3)).date()
    assert _monitor(api).run(later, trigger="test") is None
    assert calls == [] and api.get("/v1/alerts", role="erp").json()["as_of"] is None
