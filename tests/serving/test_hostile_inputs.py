"""Hostile input (issue 17): every reproduction that answered 5xx, coerced a value or silently
lost one now gets a 4xx naming the field and the reason (or the fixed behaviour), on SQLite
and PostgreSQL; an unexpected error is a JSON 500 naming a request id, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from serving.keys import KEY_NAME_MAX, create_key
from serving.routes import forecasts
from tests.serving.conftest import Api, Workspace

JSON = {"Content-Type": "application/json"}
SERIES = '[{"node_id": "DLR-01", "sku": "SKU-0001"}]'


def _series(workspace: Workspace) -> list[dict[str, str]]:
    return workspace.forecaster.keys[["node_id", "sku"]].astype(str).head(1).to_dict("records")


def _refused(answer: Any, loc: list[str | int], *words: str) -> dict[str, Any]:
    """Assert a 422 whose first problem is at `loc` and says `words`; the body."""
    assert answer.status_code == 422, answer.text
    body = answer.json()
    first = body["errors"][0]
    assert first["loc"] == loc, body
    for word in words:
        assert word in first["msg"] and word in body["detail"], body
    return body


# --- lone surrogates: refused and echoed as escape text, on every JSON route -----------------

@pytest.mark.parametrize(("method", "path", "raw", "loc"), [
    ("post", "/v1/forecasts", '{"series": [{"node_id": "\\ud800", "sku": "x"}]}',
     ["body", "series", 0, "node_id"]),
    ("post", "/v1/forecasts", '{"series": ' + SERIES + ', "model": "a\\udfffb"}',
     ["body", "model"]),
    ("post", "/v1/allocations", '{"sku": "\\ud800"}', ["body", "sku"]),
    ("post", "/v1/allocations", '{"sku": "SKU-0001", "max_qty": {"\\ud800": 1}}',
     ["body", "max_qty", "\ufffd" * 3, "[key]"]),  # pydantic: U+FFFD per byte
    ("post", "/v1/allocations/1/decision", '{"action": "override", "reason": "\\ud800"}',
     ["body", "reason"]),
    ("post", "/v1/allocations/1/preview", '{"lines": {"\\udbff": 1}}',
     ["body", "lines", "\ufffd" * 3, "[key]"]),
    ("post", "/v1/stock-risk", '{"skus": ["\\ud800"]}', ["body", "skus", 0]),
    ("put", "/v1/inventory", '{"inventory": [{"node_id": "\\ud800", "sku": "S", "on_hand": 1, '
     '"in_transit": 0, "as_of": "2024-01-01"}]}', ["body", "inventory", 0, "node_id"]),
    ("post", "/v1/sell-through", '{"rows": [{"date": "2024-01-01", "node_id": "N", '
     '"sku": "\\ud800", "units": 1}]}', ["body", "rows", 0, "sku"]),
    ("post", "/v1/keys", '{"name": "\\ud800", "role": "erp"}', ["body", "name"]),
    ("post", "/v1/series/recent", '{"series": [{"node_id": "\\ud800", "sku": "S"}]}',
     ["body", "series", 0, "node_id"]),
])
def test_a_lone_surrogate_is_422_naming_the_field_with_the_escape_echoed(
        api: Api, method: str, path: str, raw: str, loc: list[str | int]):
    answer = getattr(api, method)(path, content=raw.encode(), headers=JSON)
    _refused(answer, loc, "lone surrogate", "send valid Unicode")
    assert "\\ud800" in answer.text or "\\udfff" in answer.text or "\\udbff" in answer.text


def test_a_lone_surrogate_in_an_unknown_field_name_is_422_not_500(api: Api):
    raw = '{"series": ' + SERIES + ', "\\udc00": 1}'
    answer = api.post("/v1/forecasts", role="erp", content=raw.encode(), headers=JSON)
    assert answer.status_code == 422, answer.text
    assert "\\udc00" in answer.text
    assert answer.json()["errors"][0]["loc"][0] == "body"


# --- NUL: PostgreSQL cannot store it, so no text may hold it ---------------------------------

@pytest.mark.parametrize(("method", "path", "kw", "loc"), [
    ("post", "/v1/keys", {"json": {"name": "a\x00b", "role": "erp"}}, ["body", "name"]),
    ("delete", "/v1/keys/a%00b", {}, ["path", "name"]),
    ("get", "/v1/allocations?sku=a%00b", {}, ["query", "sku"]),
    ("post", "/v1/allocations/1/decision", {"json": {"action": "override", "reason": "\x00"}},
     ["body", "reason"]),
])
def test_a_nul_character_is_422_not_a_database_error(api: Api, method: str, path: str,
                                                      kw: dict[str, Any], loc: list[str | int]):
    _refused(getattr(api, method)(path, **kw), loc, "is NUL")


def test_a_path_with_a_nul_is_audited_without_losing_the_batch(api: Api):
    assert api.delete("/v1/keys/a%00b").status_code == 422
    assert api.post("/v1/models/reload").status_code == 200
    paths = [e["path"] for e in api.get("/v1/audit").json()]
    assert "/v1/keys/a\\x00b" in paths and "/v1/models/reload" in paths


# --- dates: bounded on every date field ------------------------------------------------------

@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"])
def test_a_planned_date_outside_1900_to_2199_is_422_not_500(api: Api, workspace: Workspace,
                                                             day: str):
    series = _series(workspace)
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": series, "model": "lgbm", "planned": [{**series[0], "date": day, "promo": 1}]})
    _refused(answer, ["body", "planned", 0, "date"], f"date {day} is out of range",
             "1900-01-01 to 2199-12-31")


@pytest.mark.parametrize(("method", "path", "body", "loc"), [
    ("put", "/v1/inventory", {"inventory": [{"node_id": "DLR-01", "sku": "SKU-0001",
                                             "on_hand": 1, "in_transit": 0,
                                             "as_of": "9999-12-31"}]},
     ["body", "inventory", 0, "as_of"]),
    ("post", "/v1/sell-through", {"rows": [{"date": "0001-01-01", "node_id": "DLR-01",
                                            "sku": "SKU-0001", "units": 1}]},
     ["body", "rows", 0, "date"]),
])
def test_every_date_field_is_bounded(api: Api, method: str, path: str, body: dict[str, Any],
                                     loc: list[str | int]):
    _refused(getattr(api, method)(path, role="erp", json=body), loc, "is out of range",
             "1900-01-01 to 2199-12-31")


def test_a_number_is_not_read_as_a_date(api: Api, workspace: Workspace):
    series = _series(workspace)
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": series, "planned": [{**series[0], "date": 1700000000}]})
    _refused(answer, ["body", "planned", 0, "date"], "YYYY-MM-DD")


# --- empty selections: empty results ---------------------------------------------------------

def test_stock_risk_of_an_sku_nobody_stocks_is_an_empty_200(api: Api, workspace: Workspace):
    stocked = workspace.inventory[workspace.inventory["sku"] == "SKU-0001"]
    inventory = stocked.astype({"as_of": str}).to_dict("records")
    assert api.put("/v1/inventory", role="erp", json={"inventory": inventory}).status_code == 200
    answer = api.post("/v1/stock-risk", role="erp", json={"skus": ["SKU-0002"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 0 and answer.json()["rows"] == []
    both = api.post("/v1/stock-risk", role="erp", json={"skus": ["SKU-0001", "SKU-0002"]})
    assert both.status_code == 200 and {r["sku"] for r in both.json()["rows"]} == {"SKU-0001"}


# --- strict types: nothing coerced -----------------------------------------------------------

@pytest.mark.parametrize(("change", "loc", "words"), [
    ({"horizon": True}, ["body", "horizon"], "valid integer"),
    ({"horizon": "2"}, ["body", "horizon"], "valid integer"),
    ({"quantiles": ["0.5"]}, ["body", "quantiles", 0], "valid number"),
    ({"quantiles": [True]}, ["body", "quantiles", 0], "valid number"),
])
def test_booleans_and_strings_are_not_coerced_to_numbers(api: Api, workspace: Workspace,
                                                          change: dict[str, Any],
                                                          loc: list[str | int], words: str):
    answer = api.post("/v1/forecasts", role="erp", json={"series": _series(workspace), **change})
    _refused(answer, loc, words)


@pytest.mark.parametrize(("path", "body", "loc"), [
    ("/v1/allocations", {"sku": "SKU-0001", "available": "100"}, ["body", "available"]),
    ("/v1/allocations", {"sku": "SKU-0001", "pack_size": True}, ["body", "pack_size"]),
    ("/v1/stock-risk", {"top": "5"}, ["body", "top"]),
    ("/v1/stock-risk", {"excess_weeks": False}, ["body", "excess_weeks"]),
])
def test_other_numbers_are_strict_too(api: Api, path: str, body: dict[str, Any],
                                      loc: list[str | int]):
    _refused(api.post(path, role="planner", json=body), loc, "Input should be a valid")


def test_an_integer_is_still_a_valid_decimal(api: Api):
    answer = api.post("/v1/allocations", role="planner", json={"sku": "SKU-0001",
                                                               "available": 100})
    assert answer.status_code == 201, answer.text
    assert answer.json()["available"] == 100.0


# --- quantile levels: one column each, named by their level ----------------------------------

@pytest.mark.parametrize(("levels", "loc", "words"), [
    ([0.1, 0.1000000001], ["body", "quantiles", 1], "'q0.1'"),
    ([0.99999999999999], ["body", "quantiles", 0], "rounds to 1"),
    ([0.1234567], ["body", "quantiles", 0], "at most 6 significant digits"),
    ([0.5, 0.5], ["body", "quantiles"], "share the column q0.5"),
])
def test_quantile_levels_that_would_share_or_misname_a_column_are_422(
        api: Api, workspace: Workspace, levels: list[float], loc: list[str | int], words: str):
    answer = api.post("/v1/forecasts", role="erp", json={"series": _series(workspace),
                                                         "quantiles": levels})
    _refused(answer, loc, words)


def test_quantile_columns_are_named_by_their_exact_level(api: Api, workspace: Workspace):
    answer = api.post("/v1/forecasts", role="erp", json={
        "series": _series(workspace), "quantiles": [0.975, 0.05, 0.123456]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["quantiles"] == [0.05, 0.123456, 0.975]
    assert set(answer.json()["rows"][0]["quantiles"]) == {"q0.05", "q0.123456", "q0.975"}


# --- every number finite and bounded ---------------------------------------------------------

def test_an_allocation_preview_of_1e308_is_422_not_a_null_answer(api: Api):
    created = api.post("/v1/allocations", role="planner", json={"sku": "SKU-0001",
                                                                "available": 100})
    assert created.status_code == 201, created.text
    node = created.json()["lines"][0]["node_id"]
    answer = api.post(f"/v1/allocations/{created.json()['id']}/preview", role="planner",
                      json={"lines": {node: 1e308}})
    _refused(answer, ["body", "lines", node], "less than or equal to 1000000000000")
    fine = api.post(f"/v1/allocations/{created.json()['id']}/preview", role="planner",
                    json={"lines": {node: 1e12}})
    assert fine.status_code == 200, fine.text
    assert fine.json()["allocated"] is not None


def test_an_allocation_of_1e308_units_is_422(api: Api):
    answer = api.post("/v1/allocations", role="planner", json={"sku": "SKU-0001",
                                                               "available": 1e308})
    _refused(answer, ["body", "available"], "less than or equal to 1000000000000")


# --- key names: one limit for the schema and the code ----------------------------------------

def test_the_key_name_limit_is_the_same_in_the_schema_and_the_code(api: Api):
    schema = api.get("/openapi.json", role=None).json()["components"]["schemas"]["KeyCreateIn"]
    assert schema["properties"]["name"]["maxLength"] == KEY_NAME_MAX == 100
    _refused(api.post("/v1/keys", json={"name": "k" * 150, "role": "erp"}), ["body", "name"],
             f"at most {KEY_NAME_MAX} characters")
    with pytest.raises(ValueError, match=f"1 to {KEY_NAME_MAX} characters"):
        create_key(api.service.db, name="k" * (KEY_NAME_MAX + 1), role="erp")
    longest = api.post("/v1/keys", json={"name": "k" * KEY_NAME_MAX, "role": "erp"})
    assert longest.status_code == 201, longest.text
    assert api.delete(f"/v1/keys/{'k' * KEY_NAME_MAX}").status_code == 200


# --- the last resort: a JSON 500 naming a request id -----------------------------------------

def test_an_unexpected_error_is_a_json_500_naming_the_request_id_never_the_traceback(
        api: Api, workspace: Workspace, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture):
    def broken(*_args: Any) -> Any:
        raise RuntimeError("secret internals 4711")

    monkeypatch.setattr(forecasts, "_check", broken)
    with caplog.at_level(logging.ERROR, logger="channelcast.serving"):
        answer = api.post("/v1/forecasts", role="erp", json={"series": _series(workspace)},
                          headers={"X-Request-ID": "req-hostile-1"})
        anonymous = api.post("/v1/forecasts", role="erp", json={"series": _series(workspace)})
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    detail = answer.json()["detail"]
    assert "request id req-hostile-1" in detail
    assert answer.headers["x-request-id"] == "req-hostile-1"
    assert "4711" not in answer.text and "Traceback" not in answer.text
    generated = anonymous.headers["x-request-id"]
    assert generated and f"request id {generated}" in anonymous.json()["detail"]
    logged = [r for r in caplog.records if "req-hostile-1" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret internals 4711" in str(logged[0].exc_info[1])
