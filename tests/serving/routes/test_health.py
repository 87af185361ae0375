"""healthz, readyz (503 without a model, with the reason) and Prometheus metrics."""

from __future__ import annotations

import re
from dataclasses import replace

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.keys import create_key
from serving.settings import Settings
from tests.serving.conftest import Api


def test_ready_with_a_model_and_the_version(api: Api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["model_version"] is not None


def test_not_ready_without_a_model_says_why_and_model_routes_are_503(settings: Settings):
    broken = replace(settings, model_uri="models:/no-such-model@champion")
    app = create_app(broken)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "cannot load models:/no-such-model@champion" in ready.json()["reasons"][0]
        _, key = create_key(app.state.service.db, name="e", role="erp")
        forecast = client.post("/v1/forecasts", headers={"X-API-Key": key}, json={
            "series": [{"node_id": "DLR-01", "sku": "SKU-0001"}]})
        assert forecast.status_code == 503
        assert forecast.json()["detail"].startswith("no model is loaded: cannot load")


def test_metrics_are_prometheus_text(api: Api):
    api.post("/v1/forecasts", role="erp", json={
        "series": [{"node_id": "DLR-01", "sku": "SKU-0001"}]})
    api.post("/v1/forecasts", role=None, json={})
    answer = api.client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert ('channelcast_http_requests_total{method="POST",route="/v1/forecasts",'
            'status="200"} 1.0\n') in text
    assert 'status="401"} 1.0\n' in text
    assert re.search(r'channelcast_http_request_duration_seconds_bucket\{le="\+Inf",'
                     r'method="POST",route="/v1/forecasts"\} 2\.0\n', text)
    assert "channelcast_http_requests_in_flight 1.0\n" in text  # this scrape
    assert "channelcast_forecast_series_total 1.0\n" in text
    assert "# TYPE channelcast_http_request_duration_seconds histogram" in text
    assert 'channelcast_model_info{name="channelcast-demand"' in text
    for line in text.splitlines():
        assert line.startswith("#") or re.match(r"^[a-z_]+(\{.*\})? [0-9.e+-]+$", line), line
