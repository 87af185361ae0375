"""Series at every level of the channel tree (issue 23): POST /v1/forecasts with `level`
answers the model's own `predict_levels` (levels add up), GET /v1/aggregates lists and
searches the aggregates, GET /v1/aggregates/{level}/{node_id}/{sku} gives one for the page;
unknown aggregates are 404 saying where to list them, a model without a hierarchy 409."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.serving.conftest import Api, LevelModel, Workspace

PARENT = {"level": "parent", "node_id": "DST-01", "sku": "*"}


def _frame(series: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"level": "node", **s} for s in series])


def test_aggregate_rows_equal_the_models_reconciled_forecasts(level_api: Api,
                                                               level_model: LevelModel):
    f = level_model.forecaster
    series = [PARENT, {"node_id": "DLR-01", "sku": "SKU-0001"},
              {"level": "channel", "node_id": "dealer", "sku": "SKU-0002"}]
    answer = level_api.post("/v1/forecasts", role="erp", json={
        "series": series, "horizon": 3, "quantiles": [0.5, 0.1, 0.9]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reconcile"] == f.reconcile is not None
    expected = f.predict_levels(_frame(series), horizon=3, quantiles=[0.1, 0.5, 0.9])
    rows = body["rows"]
    assert len(rows) == len(expected) == 9
    assert [r["level"] for r in rows] == ["parent"] * 3 + ["node"] * 3 + ["channel"] * 3
    assert [(r["node_id"], r["sku"]) for r in rows] == list(zip(expected["node_id"],
                                                                expected["sku"], strict=True))
    assert [r["mean"] for r in rows] == pytest.approx(expected["mean"].tolist())
    assert [r["quantiles"]["q0.9"] for r in rows] == pytest.approx(expected["q0.9"].tolist())
    assert [r["date"] for r in rows] == [f"{d:%Y-%m-%d}" for d in expected["date"]]


@pytest.mark.parametrize("method", [None, "bottom_up", "mint_shrink"])
def test_the_levels_add_up_in_one_answer(level_api: Api, level_model: LevelModel, method):
    keys = level_model.forecaster.keys
    below = keys[keys["node_id"].isin(["DLR-01", "DLR-02"])][["node_id", "sku"]]
    body = {"series": [PARENT, *below.to_dict("records")], "quantiles": [0.1, 0.9]}
    if method:
        body["reconcile"] = method
    answer = level_api.post("/v1/forecasts", role="erp", json=body)
    assert answer.status_code == 200, answer.text
    rows = pd.DataFrame(answer.json()["rows"])
    assert answer.json()["reconcile"] == (method or level_model.forecaster.reconcile)
    parent = rows[rows["level"] == "parent"].set_index("date")["mean"]
    nodes = rows[rows["level"] == "node"].groupby("date")["mean"].sum()
    assert parent.to_numpy() == pytest.approx(nodes.loc[parent.index].to_numpy(), rel=1e-9)
    band = rows["quantiles"].apply(pd.Series)
    assert (band["q0.1"] <= band["q0.9"]).all()


@pytest.mark.parametrize("extra", [{"reconcile": "none"}, {}])
def test_node_series_alone_or_reconcile_none_give_the_base_forecasts(
        level_api: Api, level_model: LevelModel, extra):
    f = level_model.forecaster
    node = [{"node_id": "DLR-01", "sku": "SKU-0001"}]
    answer = level_api.post("/v1/forecasts", role="erp", json={"series": node, **extra})
    assert answer.status_code == 200, answer.text
    assert answer.json()["reconcile"] == "none"
    expected = f.predict(pd.DataFrame(node))
    assert [r["mean"] for r in answer.json()["rows"]] == pytest.approx(
        expected["mean"].tolist())
    assert [r["level"] for r in answer.json()["rows"]] == ["node"] * f.horizon
    named = level_api.post("/v1/forecasts", role="erp", json={
        "series": [{"level": "node", **node[0]}]}).json()
    assert named["reconcile"] == f.reconcile  # a level named: reconciled
    want = f.predict_levels(_frame(node))
    assert [r["mean"] for r in named["rows"]] == pytest.approx(want["mean"].tolist())
    both = level_api.post("/v1/forecasts", role="erp", json={"series": [PARENT, *node],
                                                             "reconcile": "none"})
    want = f.predict_levels(_frame([PARENT, *node]), reconcile="none")
    assert [r["mean"] for r in both.json()["rows"]] == pytest.approx(want["mean"].tolist())


def test_unknown_aggregate_is_404_naming_it_and_where_to_list(level_api: Api):
    series = [PARENT, {"level": "parent", "node_id": "NOPE", "sku": "*"},
              {"level": "total", "node_id": "TOTAL", "sku": "GHOST"}]
    answer = level_api.post("/v1/forecasts", role="erp", json={"series": series})
    assert answer.status_code == 404, answer.text
    detail = answer.json()["detail"]
    assert "2 series not in the model" in detail
    assert "(parent, NOPE, *)" in detail and "(total, TOTAL, GHOST)" in detail
    assert "GET /v1/aggregates" in detail
    assert answer.json()["errors"][0]["value"] == "parent/NOPE/*"


@pytest.mark.parametrize("body", [{"series": [PARENT]},
                                  {"series": [{"node_id": "DLR-01", "sku": "SKU-0001"}],
                                   "reconcile": "mint_shrink"}])
def test_a_model_without_a_hierarchy_is_409(api: Api, body):
    answer = api.post("/v1/forecasts", role="erp", json=body)
    assert answer.status_code == 409, answer.text
    assert "trained without a hierarchy" in answer.json()["detail"]
    assert "level `node`" in answer.json()["detail"]
    listed = api.get("/v1/aggregates", role="erp").json()
    assert listed["aggregates"] == [] and listed["reconcile"] is None
    assert api.get("/v1/aggregates/parent/DST-01/*", role="erp").status_code == 409


def test_unknown_method_and_planned_aggregates_are_422(level_api: Api):
    answer = level_api.post("/v1/forecasts", role="erp", json={"series": [PARENT],
                                                               "reconcile": "magic"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "reconcile"]
    assert "bottom_up" in answer.json()["detail"]
    plan = [{"node_id": "DLR-01", "sku": "SKU-0001", "date": "2024-01-01", "promo": 1}]
    answer = level_api.post("/v1/forecasts", role="erp", json={"series": [PARENT],
                                                               "planned": plan})
    assert answer.status_code == 422
    assert "node x sku series only" in answer.json()["detail"]


def test_aggregates_are_listed_searched_and_paged(level_api: Api, level_model: LevelModel):
    hierarchy = level_model.forecaster.hierarchy
    assert hierarchy is not None
    listed = level_api.get("/v1/aggregates", role="erp", params={"limit": 1000}).json()
    assert listed["total"] == hierarchy.n_all - hierarchy.n_bottom
    assert listed["reconcile"] == level_model.forecaster.reconcile
    assert "none" in listed["methods"] and "mint_shrink" in listed["methods"]
    top = listed["aggregates"][0]
    assert top == {"level": "total", "node_id": "TOTAL", "sku": "*",
                   "series": hierarchy.n_bottom}
    parents = level_api.get("/v1/aggregates", role="erp",
                            params={"level": "parent", "q": "dst"}).json()
    assert parents["aggregates"] and {a["node_id"] for a in parents["aggregates"]} == {"DST-01"}
    assert {"level": "parent", "node_id": "DST-01", "sku": "*", "series": 10} in \
        parents["aggregates"]  # 2 dealers x 5 skus
    page = level_api.get("/v1/aggregates", role="erp", params={"limit": 2, "offset": 1}).json()
    assert page["aggregates"] == listed["aggregates"][1:3]


def test_one_aggregate_has_its_summed_history_and_reconciled_band(level_api: Api,
                                                                  level_model: LevelModel):
    f = level_model.forecaster
    answer = level_api.get("/v1/aggregates/parent/DST-01/*", role="erp",
                           params={"history": 10})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["series"] == 10 and body["reconcile"] == f.reconcile
    tail = f.tail[f.tail["node_id"].isin(["DLR-01", "DLR-02"])]
    want = tail.groupby("date")["units"].sum().tail(10)
    assert [p["units"] for p in body["history"]] == pytest.approx(want.tolist())
    expected = f.predict_levels(_frame([PARENT]), quantiles=[0.1, 0.9])
    assert [p["mean"] for p in body["forecast"]] == pytest.approx(expected["mean"].tolist())
    assert [p["hi"] for p in body["forecast"]] == pytest.approx(expected["q0.9"].tolist())
    other = level_api.get("/v1/aggregates/parent/DST-01/*", role="erp",
                          params={"reconcile": "none"}).json()
    assert other["reconcile"] == "none"
    missing = level_api.get("/v1/aggregates/parent/NOPE/*", role="erp")
    assert missing.status_code == 404 and "GET /v1/aggregates" in missing.json()["detail"]


def test_aggregates_roll_forward_with_new_sell_through(level_api: Api, level_model: LevelModel,
                                                       workspace: Workspace):
    new = workspace.new_rows
    rows = [{k: v for k, v in r.items() if not pd.isna(v)} for r in
            new.assign(date=new["date"].dt.strftime("%Y-%m-%d")).to_dict("records")]
    answer = level_api.post("/v1/sell-through", role="erp", json={"rows": rows})
    assert answer.status_code == 201, answer.text
    rolled = level_model.forecaster.update(new)
    got = level_api.post("/v1/forecasts", role="erp", json={"series": [PARENT]}).json()
    assert got["origin"] == answer.json()["origin_after"] == f"{rolled.origin:%Y-%m-%d}"
    expected = rolled.predict_levels(_frame([PARENT]))
    assert [r["mean"] for r in got["rows"]] == pytest.approx(expected["mean"].tolist())
    view = level_api.get("/v1/aggregates/parent/DST-01/*", role="erp").json()
    assert view["history"][-1]["date"] == got["origin"]


def test_level_tables_share_the_bounded_forecast_cache(level_api: Api):
    cache = level_api.service.models.get().forecasts
    cache.max_bytes = 1  # every new table pushes the older ones out
    for quantiles in ([0.1, 0.9], [0.2, 0.8], [0.3, 0.7]):
        answer = level_api.post("/v1/forecasts", role="erp", json={
            "series": [PARENT], "quantiles": quantiles})
        assert answer.status_code == 200, answer.text
    assert len(cache._tables) == 1
    assert any(key[0] == "levels" and key[3] == (0.3, 0.7) for key in cache._tables)
