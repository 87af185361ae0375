"""Hostile sell-through and inventory dates (issue 17): a mistyped year, an off-grid day or a
far-future `as_of` is a 422 naming the row and the allowed range, and changes nothing; an
accepted batch can be reverted by an admin, leaving the forecasts exactly those of a service
that never saw it, on this worker, on the others, and after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.service import Service
from serving.settings import Settings
from tests.serving.conftest import Api, Workspace, add_keys
from tests.serving.payloads import inventory_rows, json_rows

WEEK = pd.Timedelta(weeks=1)


def _day(value: pd.Timestamp) -> str:
    return f"{value:%Y-%m-%d}"


def _allowed(workspace: Workspace) -> str:
    origin = workspace.forecaster.origin
    return (f"allowed: {_day(origin + WEEK)} .. {_day(origin + 4 * WEEK)} (the 4 weekly "
            f"periods after the model's origin {_day(origin)})")


def _week(workspace: Workspace, k: int) -> pd.DataFrame:
    """The k-th held-out week (1-based) of every series."""
    rows = workspace.new_rows
    return rows[rows["date"] == workspace.forecaster.origin + k * WEEK].reset_index(drop=True)


def _forecasts(api: Api) -> list[dict[str, Any]]:
    keys = api.service.models.get().forecaster.keys[["node_id", "sku"]].astype(str)
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": keys.to_dict("records"), "quantiles": [0.1, 0.5, 0.9]})
    assert answer.status_code == 200, answer.text
    return answer.json()["rows"]


@contextmanager
def _started(settings: Settings) -> Iterator[Api]:
    service = Service(settings)
    with TestClient(create_app(service=service), raise_server_exceptions=False) as client:
        yield Api(client=client, service=service, keys=add_keys(service))


# --- plausibility ------------------------------------------------------------------------------

def test_the_2062_row_is_refused_naming_the_row_and_the_range(api: Api, workspace: Workspace):
    before = _forecasts(api)
    node, sku = workspace.forecaster.keys[["node_id", "sku"]].astype(str).iloc[0]
    answer = api.post("/v1/sell-through", role="erp", json={
        "rows": [{"date": "2062-01-02", "node_id": node, "sku": sku, "units": 3}]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["detail"].startswith("1 problem(s) in the sell-through rows, nothing was "
                                     "applied; first: body.rows[0].date: 2062-01-02 is more "
                                     "than 4 weekly periods after the model's origin")
    assert _allowed(workspace) in body["detail"]
    assert body["errors"] == [{"loc": ["body", "rows", 0, "date"], "type": "beyond_window",
                               "value": "2062-01-02", "msg": body["errors"][0]["msg"]}]
    current = api.get("/v1/models/current", role="erp").json()
    assert current["origin"] == _day(workspace.forecaster.origin)
    assert current["sell_through_batches"] == 0
    assert _forecasts(api) == before


def test_off_grid_and_stale_dates_are_422_with_the_allowed_range(api: Api,
                                                                 workspace: Workspace):
    rows = json_rows(_week(workspace, 1).head(3))
    rows[1]["date"] = _day(workspace.forecaster.origin + WEEK + pd.Timedelta(days=1))  # Tuesday
    rows[2]["date"] = _day(workspace.forecaster.origin)
    answer = api.post("/v1/sell-through", role="erp", json={"rows": rows})
    assert answer.status_code == 422
    errors = {e["loc"][2]: e for e in answer.json()["errors"]}
    assert sorted(errors) == [1, 2]
    assert errors[1]["type"] == "off_grid_date" and "W-MON grid" in errors[1]["msg"]
    assert errors[2]["type"] == "not_after_origin"
    assert "training data" in errors[2]["msg"]
    assert all(_allowed(workspace) in e["msg"] for e in errors.values())
    assert api.get("/v1/models/current", role="erp").json()["sell_through_batches"] == 0


def test_a_gap_inside_the_window_is_taken_and_the_window_is_a_setting(
        workspace: Workspace, settings: Settings):
    """Skipped periods count as not reported (as `Forecaster.update` takes them)."""
    third = _week(workspace, 2).assign(date=workspace.forecaster.origin + 3 * WEEK)
    with _started(replace(settings, max_periods_ahead=2)) as narrow:
        refused = narrow.post("/v1/sell-through", role="erp", json={"rows": json_rows(third)})
        assert refused.status_code == 422
        assert "(the 2 weekly periods after the model's origin" in refused.json()["detail"]
    with _started(settings) as api:
        taken = api.post("/v1/sell-through", role="erp", json={"rows": json_rows(third)})
        assert taken.status_code == 201, taken.text
        assert taken.json()["origin_after"] == _day(workspace.forecaster.origin + 3 * WEEK)


def test_inventory_as_of_must_be_plausible(api: Api, workspace: Workspace):
    rows = inventory_rows(workspace)
    rows[0]["as_of"] = "2062-01-02"
    answer = api.put("/v1/inventory", role="erp", json={"inventory": rows})
    assert answer.status_code == 422
    body = answer.json()
    assert body["errors"][0]["loc"] == ["body", "inventory", 0, "as_of"]
    assert "body.inventory[0].as_of: 2062-01-02 is not a plausible stock date; allowed: " \
        "1900-01-01 .. " in body["detail"]
    assert api.service.channel.snapshot_id == 0
    rows[0]["as_of"] = "1899-12-31"
    old = api.put("/v1/inventory", role="erp", json={"inventory": rows})
    assert old.status_code == 422
    assert old.json()["errors"][0]["loc"] == ["body", "inventory", 0, "as_of"]


# --- revert -------------------------------------------------------------------------------------

def test_a_reverted_batch_leaves_the_forecasts_of_a_model_that_never_saw_it(
        api: Api, workspace: Workspace):
    never = _forecasts(api)
    posted = api.post("/v1/sell-through", role="erp", json={"rows": json_rows(workspace.new_rows)})
    assert posted.status_code == 201, posted.text
    batch = posted.json()["batch_id"]
    assert _forecasts(api) != never
    again = api.post("/v1/sell-through", role="erp", json={"rows": json_rows(_week(workspace, 1))})
    assert again.status_code == 422
    assert (f"sell-through batch {batch} applied it; to correct it an admin reverts that batch "
            f"and any later one (POST /v1/sell-through/{batch}/revert)") in again.json()["detail"]
    for role in ("erp", "planner"):
        assert api.post(f"/v1/sell-through/{batch}/revert", role=role).status_code == 403
    reverted = api.post(f"/v1/sell-through/{batch}/revert", role="admin")
    assert reverted.status_code == 200, reverted.text
    body = reverted.json()
    assert body["batch_id"] == batch and body["rows"] == len(workspace.new_rows)
    assert body["origin_before"] == posted.json()["origin_after"]
    assert body["origin"] == _day(workspace.forecaster.origin)
    assert body["reverted_by"].startswith("admin-") and body["sell_through_batches"] == 0
    assert _forecasts(api) == never
    twice = api.post(f"/v1/sell-through/{batch}/revert", role="admin")
    assert twice.status_code == 409 and "already reverted" in twice.json()["detail"]
    assert api.post("/v1/sell-through/999/revert", role="admin").status_code == 404
    audit = api.get("/v1/audit", role="admin").json()
    assert any(e["action"] == "sell_through.revert" and e["object_id"] == str(batch)
               and e["actor"] == body["reverted_by"] for e in audit)
    corrected = api.post("/v1/sell-through", role="erp",
                         json={"rows": json_rows(workspace.new_rows)})
    assert corrected.status_code == 201 and corrected.json()["origin_after"] == \
        posted.json()["origin_after"]


def test_restart_and_other_workers_replay_only_batches_not_reverted(
        settings: Settings, workspace: Workspace, tmp_path_factory: pytest.TempPathFactory):
    with _started(settings) as a, _started(settings) as b:
        first = a.post("/v1/sell-through", role="erp",
                       json={"rows": json_rows(_week(workspace, 1))})
        second = a.post("/v1/sell-through", role="erp",
                        json={"rows": json_rows(_week(workspace, 2))})
        assert first.status_code == second.status_code == 201
        b.service.sync_once()
        assert b.service.models.get().forecaster.origin == workspace.forecaster.origin + 2 * WEEK
        reverted = a.post(f"/v1/sell-through/{second.json()['batch_id']}/revert")
        assert reverted.json()["origin"] == _day(workspace.forecaster.origin + WEEK)
        b.service.sync_once()  # the other worker follows within one poll
        assert b.service.models.get().forecaster.origin == workspace.forecaster.origin + WEEK
        after_revert = _forecasts(a)
        assert _forecasts(b) == after_revert
    with _started(settings) as restarted:
        assert restarted.get("/v1/models/current").json()["sell_through_batches"] == 1
        assert _forecasts(restarted) == after_revert
    fresh = tmp_path_factory.mktemp("fresh")
    with _started(replace(settings, database_url=f"sqlite:///{fresh / 'f.db'}")) as only_first:
        assert only_first.post("/v1/sell-through", role="erp",
                               json={"rows": json_rows(_week(workspace, 1))}).status_code == 201
        assert _forecasts(only_first) == after_revert
