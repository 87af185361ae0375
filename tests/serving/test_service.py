"""What outlives a request: recorded sell-through is replayed over the model at startup,
other workers' changes are picked up from the database, and a model swap under load drops
no request."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from serving.app import create_app
from serving.keys import create_key
from serving.service import Service
from serving.settings import Settings
from tests.serving.conftest import MODEL_NAME, Live, Workspace
from tests.serving.payloads import inventory_rows, json_rows

SERIES = {"series": [{"node_id": "DLR-01", "sku": "SKU-0001"}], "horizon": 2}


def _client(service: Service) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(create_app(service=service))
    client.__enter__()
    _, key = create_key(service.db, name=f"k{id(service)}", role="admin")
    return client, {"X-API-Key": key}


def test_a_restarted_service_replays_recorded_sell_through(settings: Settings,
                                                           workspace: Workspace):
    first, headers = _client(Service(settings))
    posted = first.post("/v1/sell-through", headers=headers,
                        json={"rows": json_rows(workspace.new_rows)})
    assert posted.status_code == 201
    first.__exit__(None, None, None)
    second, headers = _client(Service(settings))
    try:
        current = second.get("/v1/models/current", headers=headers).json()
        assert current["origin"] == posted.json()["origin_after"]
        assert current["origin_at_load"] == f"{workspace.forecaster.origin:%Y-%m-%d}"
        got = second.post("/v1/forecasts", headers=headers, json=SERIES).json()
        expected = workspace.forecaster.update(workspace.new_rows).predict(
            pd.DataFrame(SERIES["series"]), horizon=2)
        assert [r["mean"] for r in got["rows"]] == pytest.approx(expected["mean"].tolist())
    finally:
        second.__exit__(None, None, None)


def test_workers_pick_up_each_others_changes(settings: Settings, workspace: Workspace):
    a, b = Service(settings), Service(settings)
    client_a, headers = _client(a)
    client_b, _ = _client(b)
    try:
        assert client_a.post("/v1/sell-through", headers=headers,
                             json={"rows": json_rows(workspace.new_rows)}).status_code == 201
        assert client_a.put("/v1/inventory", headers=headers,
                            json={"inventory": inventory_rows(workspace)}).status_code == 200
        assert b.models.get().forecaster.origin == workspace.forecaster.origin
        b.sync_once()
        assert b.models.get().forecaster.origin == a.models.get().forecaster.origin
        assert b.channel.snapshot_id == a.channel.snapshot_id == 1
        generation = b.models.get().generation
        assert client_a.post("/v1/models/reload", headers=headers).status_code == 200
        b.sync_once()
        reloaded = b.models.get()
        assert reloaded.generation > generation
        assert reloaded.forecaster.origin == a.models.get().forecaster.origin  # replayed
    finally:
        client_a.__exit__(None, None, None)
        client_b.__exit__(None, None, None)


def _hammer(url: str, key: str, stop: threading.Event, results: Counter[int | str],
            versions: set[str]) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
        while not stop.is_set():
            try:
                answer = client.post("/v1/forecasts", json=SERIES)
                results[answer.status_code] += 1
                if answer.status_code == 200:
                    versions.add(answer.json()["model_version"])
            except httpx.HTTPError as exc:
                results[type(exc).__name__] += 1


def test_reload_and_roll_forward_under_load_drop_no_request(live: Live, workspace: Workspace):
    client = MlflowClient(tracking_uri=workspace.tracking_uri,
                          registry_uri=workspace.tracking_uri)
    current = live.service.models.get().version
    assert current is not None
    source = client.get_model_version(MODEL_NAME, current)
    assert source.source is not None
    stop, results, versions = threading.Event(), Counter[int | str](), set[str]()
    threads = [threading.Thread(target=_hammer, args=(live.url, live.keys["erp"], stop,
                                                      results, versions)) for _ in range(8)]
    for t in threads:
        t.start()
    admin = httpx.Client(base_url=live.url, headers={"X-API-Key": live.keys["admin"]},
                         timeout=60)
    try:
        time.sleep(0.5)
        for _ in range(3):
            fresh = client.create_model_version(MODEL_NAME, source=source.source,
                                                run_id=source.run_id)
            client.set_registered_model_alias(MODEL_NAME, "champion", fresh.version)
            assert admin.post("/v1/models/reload").status_code == 200
            time.sleep(0.3)
        rolled = admin.post("/v1/sell-through", json={"rows": json_rows(workspace.new_rows)})
        assert rolled.status_code == 201
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
        admin.close()
    assert set(results) == {200}, results
    assert results[200] > 50
    assert str(fresh.version) in versions and len(versions) >= 2
