"""POST /v1/forecasts: rows equal the model's own, with the version; 404 and 422 cases."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.serving.conftest import Api, Workspace


def _series(workspace: Workspace, n: int = 2) -> list[dict[str, str]]:
    keys = workspace.forecaster.keys[["node_id", "sku"]].astype(str).head(n)
    return keys.to_dict("records")


def test_forecast_rows_equal_the_models_predict_and_name_the_version(api: Api,
                                                                      workspace: Workspace):
    series = _series(workspace)
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": series, "horizon": 3, "quantiles": [0.9, 0.1, 0.5]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == api.service.models.get().version
    assert body["model_name"] == "channelcast-demand" and body["horizon"] == 3
    assert body["quantiles"] == [0.1, 0.5, 0.9]
    expected = workspace.forecaster.predict(pd.DataFrame(series), horizon=3,
                                            quantiles=[0.1, 0.5, 0.9])
    rows = body["rows"]
    assert len(rows) == len(expected) == 6
    assert [r["step"] for r in rows] == expected["step"].tolist()
    assert [r["model"] for r in rows] == expected["model"].tolist()
    assert [r["date"] for r in rows] == [f"{d:%Y-%m-%d}" for d in expected["date"]]
    assert [r["mean"] for r in rows] == pytest.approx(expected["mean"].tolist())
    assert [r["quantiles"]["q0.9"] for r in rows] == pytest.approx(expected["q0.9"].tolist())
    assert body["origin"] == f"{workspace.forecaster.origin:%Y-%m-%d}"


def test_unknown_series_is_404_naming_them(api: Api, workspace: Workspace):
    series = [*_series(workspace, 1), {"node_id": "NOPE", "sku": "SKU-0001"},
              {"node_id": "DLR-01", "sku": "GHOST"}]
    answer = api.post("/v1/forecasts", role="erp", json={"series": series})
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "(NOPE, SKU-0001)" in detail and "(DLR-01, GHOST)" in detail
    assert "2 series not in the model" in detail


@pytest.mark.parametrize(("body", "path", "words"), [
    ({"horizon": 0}, ["body", "horizon"], "greater than or equal to 1"),
    ({"horizon": 99}, ["body", "horizon"], "1..4"),
    ({"quantiles": [1.5]}, ["body", "quantiles", 0], "less than 1"),
    ({"model": "prophet"}, ["body", "model"], "one of"),
    ({"series": []}, ["body", "series"], "at least 1"),
    ({"series": [{"node_id": "DLR-01"}]}, ["body", "series", 0, "sku"], "Field required"),
    ({"extra": 1}, ["body", "extra"], "Extra inputs"),
])
def test_bad_input_is_422_with_field_path_and_reason(api: Api, workspace: Workspace, body,
                                                     path, words):
    sent = {"series": _series(workspace, 1), **body}
    answer = api.post("/v1/forecasts", role="erp", json=sent)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert errors[0]["loc"] == path
    assert words in errors[0]["msg"] or words in answer.json()["detail"]


def test_malformed_json_is_422_not_500(api: Api):
    answer = api.post("/v1/forecasts", role="erp", content=b'{"series": [',
                      headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["type"] == "json_invalid"


def test_planned_promotion_changes_the_lightgbm_forecast(api: Api, workspace: Workspace):
    f = workspace.forecaster
    series = _series(workspace, 1)
    plan = [{**series[0], "date": f"{d:%Y-%m-%d}", "promo": 1} for d in f.dates]
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": series, "model": "lgbm", "planned": plan})
    assert answer.status_code == 200, answer.text
    future = pd.DataFrame(plan).assign(date=lambda d: pd.to_datetime(d["date"]))
    expected = f.predict(pd.DataFrame(series), model="lgbm", future=future)
    assert [r["mean"] for r in answer.json()["rows"]] == pytest.approx(expected["mean"].tolist())


def test_planned_value_outside_the_forecast_periods_is_422(api: Api, workspace: Workspace):
    series = _series(workspace, 1)
    plan = [{**series[0], "date": "2001-01-01", "promo": 1}]
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": series, "model": "lgbm", "planned": plan})
    assert answer.status_code == 422
    assert "not one of the forecast periods" in answer.json()["detail"]


def test_big_models_forecast_only_the_requested_series_on_a_miss(api: Api, workspace: Workspace,
                                                                  monkeypatch):
    import serving.routes.forecasts as route

    monkeypatch.setattr(route, "FULL_CACHE_SERIES", 0)
    series = _series(workspace, 2)
    answer = api.post("/v1/forecasts", role="erp", json={"series": series,
                                                         "quantiles": [0.2, 0.8]})
    assert answer.status_code == 200
    expected = workspace.forecaster.predict(pd.DataFrame(series), quantiles=[0.2, 0.8])
    rows = answer.json()["rows"]
    assert [r["quantiles"]["q0.8"] for r in rows] == pytest.approx(expected["q0.8"].tolist())
    assert api.service.models.get().forecasts.peek("auto", 4, (0.2, 0.8)) is None
