"""Monthly reports in the service: generated in the background when sell-through arrives or
the periodic check runs (a closed month without a report), listed, read as HTML or PDF by
`Accept`, regenerated on demand; planner role; a failing report never fails the POST."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import serving.reports
from serving.app import create_app
from serving.reports import PERIODIC, STALE_SECONDS, ReportService, closed_month, needs_redo
from serving.routes.reports import negotiate
from serving.service import Service
from serving.settings import Settings
from serving.tables import ReportRow, utcnow
from tests.serving.conftest import Api, Workspace, add_keys, make_settings


@pytest.fixture
def settings(workspace: Workspace, database_url: str, tmp_path: Any) -> Settings:
    return make_settings(workspace, database_url, reports_dir=tmp_path / "reports",
                         report_check_seconds=0)


def _reports(api: Api) -> ReportService:
    reports: ReportService = api.client.app.state.reports  # type: ignore[attr-defined]
    return reports


def _post_first_week(api: Api, workspace: Workspace) -> None:
    rows = workspace.new_rows[workspace.new_rows["date"] == workspace.new_rows["date"].min()]
    body = rows.assign(date=rows["date"].dt.strftime("%Y-%m-%d")).to_dict("records")
    body = [{k: v for k, v in r.items() if not pd.isna(v)} for r in body]
    assert api.post("/v1/sell-through", role="erp", json={"rows": body}).status_code == 201
    _reports(api).join()


def _closed(api: Api) -> str:
    data = _reports(api).data()
    assert data is not None
    month = closed_month(data[0])
    assert month is not None
    return month


@pytest.mark.parametrize(("accept", "fmt"), [
    (None, "html"), ("*/*", "html"), ("text/html", "html"), ("application/pdf", "pdf"),
    ("text/html;q=0.5, application/pdf", "pdf"), ("application/*", "pdf"),
    ("image/png", None), ("application/pdf;q=0", None)])
def test_accept_header_picks_the_format(accept: str | None, fmt: str | None):
    assert negotiate(accept) == fmt


def test_closed_month_is_the_one_before_the_latest_period():
    frame = pd.DataFrame({"date": pd.to_datetime(["2026-01-26", "2026-02-02"])})
    assert closed_month(frame) == "2026-01"
    assert closed_month(frame.iloc[:1]) is None  # nothing before January


def test_sell_through_generates_the_closed_months_report(api: Api, workspace: Workspace):
    _post_first_week(api, workspace)
    month = _closed(api)
    listed = api.get("/v1/reports", role="planner").json()
    report = next(r for r in listed["reports"] if r["month"] == month)
    assert report["status"] == "ready" and report["lang"] == "en", report
    assert report["trigger"].startswith("sell-through batch")
    assert "html" in report["formats"] and month in listed["months_with_data"]
    html = api.get(f"/v1/reports/{month}", role="planner")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text and "<svg" in html.text
    pdf = api.get(f"/v1/reports/{month}", role="planner",
                  headers={"Accept": "application/pdf"})
    if "pdf" in report["formats"]:
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    else:  # WeasyPrint without pango: the reason is recorded and answered
        assert pdf.status_code == 406 and report["pdf_error"] in pdf.json()["detail"]


def test_reports_answer_406_404_403_and_422_with_what_there_is(api: Api, workspace: Workspace):
    _post_first_week(api, workspace)
    month = _closed(api)
    odd = api.get(f"/v1/reports/{month}", role="planner", headers={"Accept": "image/png"})
    assert odd.status_code == 406 and "application/pdf" in odd.json()["detail"]
    missing = api.get("/v1/reports/1999-01", role="planner")
    assert missing.status_code == 404 and f"{month} (en)" in missing.json()["detail"]
    assert api.get(f"/v1/reports/{month}", role="erp").status_code == 403
    assert api.get("/v1/reports", role="erp").status_code == 403
    refused = api.post("/v1/reports/1999-01", role="planner")
    assert refused.status_code == 422 and month in refused.json()["detail"]


def test_a_report_is_generated_again_on_demand(api: Api, workspace: Workspace):
    month = str(pd.Timestamp(workspace.history["date"].min()).to_period("M") + 1)
    answer = api.post(f"/v1/reports/{month}?lang=zh", role="planner")
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "generating" and answer.json()["formats"] == []
    _reports(api).join()
    row = _reports(api).row(month, "zh")
    assert row is not None and row.status == "ready", row and row.error
    html = api.get(f"/v1/reports/{month}?lang=zh", role="planner")
    assert html.status_code == 200 and 'lang="zh' in html.text


def test_a_failing_report_never_fails_the_post(api: Api, workspace: Workspace,
                                               monkeypatch: pytest.MonkeyPatch):
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("no ink")

    monkeypatch.setattr(serving.reports, "build_report", broken)
    _post_first_week(api, workspace)
    month = _closed(api)
    row = _reports(api).row(month, "en")
    assert row is not None and row.status == "failed" and "no ink" in str(row.error)
    answer = api.get(f"/v1/reports/{month}", role="planner")
    assert answer.status_code == 409 and "no ink" in answer.json()["detail"]


def test_the_periodic_check_finds_a_closed_month_without_a_report(settings: Settings):
    service = Service(replace(settings, report_check_seconds=0.2))
    with TestClient(create_app(service=service)) as client:
        api = Api(client=client, service=service, keys=add_keys(service))
        month = _closed(api)
        for _ in range(600):  # up to 60 s on a busy machine
            row = _reports(api).row(month, "en")
            if row is not None and row.status != "generating":
                break
            time.sleep(0.1)
        assert row is not None and row.status == "ready" and row.trigger == "periodic check"
        _reports(api).join()
        assert [r.month for r in _reports(api).rows()] == [month]  # checked again: no twin


def test_the_check_redoes_a_report_left_generating_by_a_dead_worker(api: Api,
                                                                     workspace: Workspace):
    _post_first_week(api, workspace)
    reports = _reports(api)
    month = _closed(api)
    with api.service.db.session() as session:
        row = session.scalars(select(ReportRow).where(ReportRow.month == month)).one()
        row.status = "generating"
        row.generated_at = utcnow()  # a live worker: left alone
    assert reports.check("sell-through batch") == []
    with api.service.db.session() as session:
        row = session.scalars(select(ReportRow).where(ReportRow.month == month)).one()
        row.generated_at = utcnow() - timedelta(seconds=STALE_SECONDS + 1)
    assert reports.check("sell-through batch") == [f"{month} en"]
    again = reports.row(month, "en")
    assert again is not None and again.status == "ready"


def test_only_the_periodic_check_retries_a_failed_report(api: Api, workspace: Workspace,
                                                          monkeypatch: pytest.MonkeyPatch):
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("no ink")

    monkeypatch.setattr(serving.reports, "build_report", broken)
    _post_first_week(api, workspace)
    reports, month = _reports(api), _closed(api)
    monkeypatch.undo()
    assert reports.check("sell-through batch") == []  # no rebuild on every POST
    assert reports.check(PERIODIC) == [f"{month} en"]
    row = reports.row(month, "en")
    assert row is not None and row.status == "ready" and not needs_redo(row)
