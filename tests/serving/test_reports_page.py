"""The planner page's Reports tab in a real browser (Playwright driving Debian's Chromium):
the report the service generated when sell-through closed a month is listed, a month's
report is generated on demand, opened as HTML and downloaded as PDF. Screenshot:
benchmarks/figures/ui-reports.png; the console must stay free of errors. Under CI=true a
missing Chromium or playwright fails these tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.keys import create_key
from serving.service import Service
from tests.browser import FIGURES, chromium, playwright_api, sign_in, watched_page
from tests.serving.conftest import Workspace, make_settings, served_at
from tests.serving.payloads import json_rows

pytestmark = pytest.mark.slow  # a real browser: `make test-fast` leaves it out
sync_api = playwright_api()  # skips (fails under CI) without playwright or Chromium


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def _wait_ready(url: str, key: str) -> list[dict[str, object]]:
    for _ in range(1200):  # up to 120 s on a busy machine
        reports = httpx.get(f"{url}/v1/reports", headers={"X-API-Key": key}).json()["reports"]
        if reports and all(r["status"] != "generating" for r in reports):
            return list(reports)
        time.sleep(0.1)
    raise AssertionError("no report was generated within 120 s")


def test_reports_tab(workspace: Workspace, browser, tmp_path: Path) -> None:  # noqa: ANN001
    settings = make_settings(workspace, f"sqlite:///{tmp_path / 'service.db'}")
    service = Service(replace(settings, reports_dir=tmp_path / "reports",
                              report_check_seconds=0))
    FIGURES.mkdir(parents=True, exist_ok=True)
    week = workspace.new_rows["date"].min()
    with served_at(service) as url:
        _, key = create_key(service.db, name="pat.planner", role="planner")
        _, erp = create_key(service.db, name="erp.feed", role="erp")
        rows = json_rows(workspace.new_rows[workspace.new_rows["date"] == week])
        assert httpx.post(f"{url}/v1/sell-through", json={"rows": rows}, timeout=60,
                          headers={"X-API-Key": erp}).status_code == 201
        made = _wait_ready(url, key)
        assert made[0]["status"] == "ready", made
        earlier = str(pd.Period(str(made[0]["month"]), freq="M") - 1)
        _drive(browser, url, key, str(made[0]["month"]), earlier)


def _drive(browser, url: str, key: str, closed: str, earlier: str) -> None:  # noqa: ANN001
    page, problems = watched_page(browser, viewport={"width": 1366, "height": 800},
                                  accept_downloads=True)
    expect = sync_api.expect
    sign_in(page, url, key)
    expect(page.locator("#who-name")).to_have_text("pat.planner (planner)")

    page.click("nav a[data-view=reports]")
    listed = page.locator(f"#reports-table tbody tr[data-month='{closed}']")
    expect(listed).to_contain_text("ready")
    expect(listed).to_contain_text("sell-through batch")

    # generate an earlier month in Chinese: the page polls until it is ready
    page.select_option("#r-month", earlier)
    page.select_option("#r-lang", "zh")
    page.click("#reports-form button[type=submit]")
    expect(page.locator("#banner")).to_contain_text("is ready", timeout=120_000)
    made = page.locator(f"#reports-table tbody tr[data-month='{earlier}'][data-lang='zh']")
    expect(made).to_contain_text("requested by pat.planner")
    page.screenshot(path=str(FIGURES / "ui-reports.png"), full_page=True)

    # open the HTML (a new tab) and download the PDF, both fetched with the key
    with page.expect_popup() as opened:
        listed.locator("button[data-format=html]").click()
    report = opened.value
    report.wait_for_load_state()
    assert report.locator("h2").count() >= 10
    assert closed in report.content()
    report.close()
    if listed.locator("button[data-format=pdf]").count():
        with page.expect_download() as download:
            listed.locator("button[data-format=pdf]").click()
        saved = Path(download.value.path())
        assert saved.read_bytes().startswith(b"%PDF")
        assert download.value.suggested_filename == f"channel-report-{closed}-en.pdf"
    assert not problems, problems
    page.close()
