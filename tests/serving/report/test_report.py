"""The monthly report: HTML renders offline, numbers match the raw data, PDF, errors."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session

import models.monitor.health as health_module
import models.monitor.kpi as kpi_module
from features.synthetic import ChannelData, generate_channel_data
from serving.db import make_engine, migrate
from serving.report import Report, available_months, build_report, last_full_month
from serving.report.i18n import words
from serving.report.render import definitions
from serving.tables import AllocationRow
from tests.conftest import require

MONTH = "2024-05"


@pytest.fixture(scope="module")
def data() -> ChannelData:
    return generate_channel_data(nodes=8, skus=4, periods=80, freq="W", seed=2)


@pytest.fixture(scope="module")
def english(data: ChannelData) -> Report:
    return build_report(data.sell_through, data.nodes, MONTH, source="generated")


def test_html_is_one_self_contained_document(english: Report) -> None:
    html = english.html
    for heading in ("Headline", "Per channel", "Per parent node", "Top 10 nodes by growth",
                    "Bottom 10 nodes by health index", "Alerts of the month",
                    "Forecast vs actual per channel", "Allocations and decisions", "Outlook",
                    "Methods: KPI definitions"):
        assert heading in html
    assert html.index("Headline") < html.index("Per channel") < html.index("Outlook")
    assert "<svg" in html and "<style>" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "<script" not in html
    assert "sell_through_units" in html and "weeks_of_cover" in html  # the definitions


def test_numbers_recomputed_from_raw_rows(data: ChannelData, english: Report) -> None:
    sell = data.sell_through.assign(month=pd.to_datetime(data.sell_through["date"]).dt.to_period(
        "M").astype(str))
    this, prev = sell[sell["month"] == MONTH], sell[sell["month"] == "2024-04"]
    total = english.content.total
    assert total["sell_through_units"] == pytest.approx(this["units"].sum())
    assert total["sell_through_value"] == pytest.approx((this["units"] * this["price"]).sum())
    per_period = this["units"].sum() / this["date"].nunique()
    before = prev["units"].sum() / prev["date"].nunique()
    assert total["growth_vs_prev_pct"] == pytest.approx(100 * (per_period / before - 1))
    channel = this.merge(data.nodes[["node_id", "channel"]], on="node_id")
    by_channel = channel.groupby("channel")["units"].sum()
    table = english.content.channels.set_index("channel")["sell_through_units"]
    pd.testing.assert_series_equal(table.sort_index(), by_channel.sort_index(),
                                   check_names=False, check_dtype=False)
    assert f"{int(this['units'].sum()):,}" in english.html
    counts = english.content.alert_counts
    assert int(counts["total"].sum()) == len(english.content.alerts)


def test_summary_has_two_sentences_from_the_numbers(english: Report) -> None:
    units = f"{int(english.content.total['sell_through_units']):,}"
    assert re.search(rf"In May 2024 the channel sold {units} units", english.html)
    assert "weeks of cover" in english.html


def test_chinese(data: ChannelData) -> None:
    report = build_report(data.sell_through, data.nodes, MONTH, lang="zh")
    assert '<html lang="zh-CN">' in report.html
    assert "渠道月度报告" in report.html and "2024年5月" in report.html
    assert "按渠道" in report.html
    assert "压货" in report.html and "最弱：" in report.html  # health components, explanation
    assert "weakest" not in report.html and "growth vs forecast" not in report.html
    # the methods appendix too: every KPI and health component defined in Chinese
    for module, prefix in ((kpi_module, ""), (health_module, "health.")):
        for name, english in definitions(module.__doc__):
            local = words("zh").define(prefix + name, english)
            assert local != english and local in report.html, name
    assert "units sold in the month" not in report.html and "where positive" not in report.html


def test_month_without_data_names_the_months(data: ChannelData) -> None:
    months = available_months(data.sell_through)
    with pytest.raises(ValueError, match=rf"no sell-through in 2031-01; months with data: "
                                         rf"{months.iloc[0]} .. {months.iloc[-1]}"):
        build_report(data.sell_through, data.nodes, "2031-01")
    with pytest.raises(ValueError, match="YYYY-MM"):
        build_report(data.sell_through, data.nodes, "May 2024")


def test_decisions_from_the_service_database(data: ChannelData, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    migrate(url)
    engine = make_engine(url)
    lines = [{"node_id": "DLR-01", "sku": "SKU-0001", "allocated": 30.0, "proposed": 40.0}]
    with Session(engine) as session:
        session.add(AllocationRow(
            sku="SKU-0001", status="approved", policy="expected_sales", available=50.0,
            pack_size=1, request={}, lines=lines, model_version="1", model_origin="2024-05-06",
            created_by="planner", created_at=datetime(2024, 5, 10, tzinfo=UTC),
            decided_by="ann", decided_at=datetime(2024, 5, 11, tzinfo=UTC)))
        session.commit()
    engine.dispose()
    report = build_report(data.sell_through, data.nodes, MONTH, database_url=url)
    row = re.search(r"<tr><td>SKU-0001</td><td>approved</td><td>40</td><td>30</td>"
                    r"<td>ann</td><td>[0-9.]+%</td></tr>", report.html)
    assert row, "the month's allocation is listed with who decided"


def test_pdf_pages_text_and_first_page_image(english: Report, data: ChannelData,
                                             tmp_path: Path) -> None:
    require(importlib.util.find_spec("weasyprint") is not None,
            "WeasyPrint is not installed (pip install weasyprint)")
    require(shutil.which("pdftoppm"), "pdftoppm missing (apt-get install poppler-utils)")
    from pypdf import PdfReader

    pdf = tmp_path / "report.pdf"
    pages = english.write(tmp_path / "report.html", pdf)
    reader = PdfReader(pdf)
    assert pages == len(reader.pages) >= 2
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Monthly channel report" in text and "Methods" in text
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "first")], check=True)
    image = next(tmp_path.glob("first*.png"))
    assert image.stat().st_size > 5_000
    zh = build_report(data.sell_through, data.nodes, MONTH, lang="zh")
    zh.write(tmp_path / "zh.html", tmp_path / "zh.pdf")
    assert "渠道月度报告" in PdfReader(tmp_path / "zh.pdf").pages[0].extract_text()


@pytest.mark.parametrize(("dates", "month"), [
    (["2024-03-18", "2024-03-25"], "2024-03"),  # the week of 03-25 ends on 03-31
    (["2024-03-25", "2024-04-01"], "2024-03"),  # April has begun, not ended
    (["2024-03-30", "2024-03-31"], "2024-03"),  # daily, the last day reported
    (["2024-02-01", "2024-03-01"], "2024-03"),  # monthly periods
])
def test_last_full_month(dates: list[str], month: str) -> None:
    assert last_full_month(pd.DataFrame({"date": pd.to_datetime(dates)})) == month
