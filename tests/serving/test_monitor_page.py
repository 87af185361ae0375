"""The planner page's Alerts and Health tabs in a real browser (Playwright driving Debian's
Chromium): filter alerts by kind, severity and channel, acknowledge one with a note, click
through to its series with the anomaly's periods marked; nodes ranked by health index with
components as bars and a trend sparkline. Screenshots go to benchmarks/figures/ui-alerts.png
and ui-health.png; the browser's console must stay free of errors. Under CI=true a missing
Chromium or playwright fails these tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.keys import create_key
from serving.service import Service
from tests.browser import FIGURES, chromium, playwright_api, sign_in, watched_page
from tests.serving.conftest import Workspace, make_settings, served_at
from tests.serving.payloads import alert_row, json_rows, script_detection

pytestmark = pytest.mark.slow  # a real browser: `make test-fast` leaves it out
sync_api = playwright_api()  # skips (fails under CI) without playwright or Chromium


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def _seeded_alerts(workspace: Workspace, week: pd.Timestamp) -> list[dict[str, object]]:
    """One alert of every kind on real nodes and series, the drop lasting four weeks."""
    selling = list(workspace.new_rows["node_id"].unique())
    series = workspace.new_rows[["node_id", "sku"]].drop_duplicates().to_numpy()
    (n1, s1), (n2, s2) = series[0], series[len(series) // 2]
    weeks = pd.Timedelta(weeks=1)
    return [
        {**alert_row("demand_drop", n1, s1, week - 3 * weeks, week, "critical"),
         "expected": 18.0, "observed": 7.6,
         "message": "sell-through 42% of the forecast for 4 weeks (expected 18.0, saw 7.6); "
                    "check a lost customer or a competitor's promotion"},
        {**alert_row("demand_spike", n2, s2, week, week, "high"),
         "expected": 9.0, "observed": 30.6,
         "message": "sold 3.4x the forecast's 90% quantile with no promotion on record; "
                    "check for bulk resale or a data error"},
        {**alert_row("stock_mismatch", n2, s1, week, week, "medium"),
         "expected": 40.0, "observed": 16.0,
         "message": "reported on_hand is 24 units below previous on_hand + sell_in - units; "
                    "check unreported transfers or phantom sales"},
        {**alert_row("reporting_gap", selling[-1], "", week, week, "low"),
         "expected": 1.0, "observed": 0.0,
         "message": "no sell-through reported this week after 52 regular weeks; "
                    "check the partner's feed"},
    ]


def test_alerts_and_health_tabs(workspace: Workspace, browser, tmp_path: Path,  # noqa: ANN001
                                monkeypatch: pytest.MonkeyPatch):
    week = pd.Timestamp(workspace.new_rows["date"].min())
    seeded = _seeded_alerts(workspace, week)
    script_detection(monkeypatch, {week.date(): seeded})
    service = Service(make_settings(workspace, f"sqlite:///{tmp_path / 'service.db'}"))
    FIGURES.mkdir(parents=True, exist_ok=True)
    with served_at(service) as url:
        _, key = create_key(service.db, name="pat.planner", role="planner")
        _, erp = create_key(service.db, name="erp.feed", role="erp")
        rows = json_rows(workspace.new_rows[workspace.new_rows["date"] == week])
        assert httpx.post(f"{url}/v1/sell-through", json={"rows": rows}, timeout=60,
                          headers={"X-API-Key": erp}).status_code == 201
        for _ in range(1200):  # up to 60 s on a busy machine
            if httpx.get(f"{url}/v1/alerts", headers={"X-API-Key": erp}).json()["total"]:
                break
            time.sleep(0.05)
        _drive(browser, url, key, seeded)


def _drive(browser, url: str, key: str, seeded: list[dict[str, object]]) -> None:  # noqa: ANN001
    page, problems = watched_page(browser, viewport={"width": 1366, "height": 900})
    expect = sync_api.expect
    sign_in(page, url, key)
    expect(page.locator("#who-name")).to_have_text("pat.planner (planner)")

    # alerts: open ones first, most severe first; filters by kind and severity
    page.click("nav a[data-view=alerts]")
    rows = page.locator("#alerts-table tbody tr.clickable")
    expect(rows).to_have_count(len(seeded))
    expect(page.locator("#alerts-count")).to_contain_text("computed up to")
    severities = page.locator("#alerts-table tbody tr td:nth-child(1)").all_inner_texts()
    assert severities == ["critical", "high", "medium", "low"]
    page.screenshot(path=str(FIGURES / "ui-alerts.png"), full_page=True)
    page.select_option("#al-kind", "demand_spike")
    page.click("#alert-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("demand spike")
    page.select_option("#al-kind", "")
    page.select_option("#al-severity", "medium")
    page.click("#alert-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("stock mismatch")
    page.select_option("#al-severity", "")
    channel = rows.first.locator("td:nth-child(5)").inner_text()
    page.select_option("#al-channel", channel)
    page.click("#alert-filters button[type=submit]")
    expect(page.locator("#alerts-count")).to_contain_text("of")
    page.wait_for_function(
        "ch => [...document.querySelectorAll('#alerts-table tbody tr.clickable')]"
        ".every(r => r.children[4].textContent === ch)", arg=channel)
    page.select_option("#al-channel", "")

    # acknowledge the critical drop with a note: it leaves the open list
    page.click("#alert-filters button[type=submit]")
    expect(rows).to_have_count(len(seeded))
    drop = rows.filter(has_text="demand drop")
    drop.locator("td.ack input").fill("called the dealer: new competitor nearby")
    drop.locator("td.ack button").click()
    expect(page.locator("#banner")).to_contain_text("acknowledged")
    expect(rows).to_have_count(len(seeded) - 1)
    page.select_option("#al-status", "acknowledged")
    page.click("#alert-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("pat.planner")
    expect(rows.first).to_contain_text("new competitor nearby")

    # click through: the series chart with the alert's periods marked
    rows.first.locator("td:nth-child(2)").click()
    first = seeded[0]
    expect(page.locator("#series-title")).to_have_text(f"{first['node_id']} · {first['sku']}")
    chart = page.locator("#series-chart svg")
    expect(chart.locator("rect.anomaly").first).to_be_attached()
    expect(chart.locator(".legend")).to_contain_text("alert period")
    expect(page.locator("#series-back")).to_have_text("← Alerts")
    page.screenshot(path=str(FIGURES / "ui-alert-series.png"), full_page=True)

    # health: nodes ranked by index (least healthy first), components as bars, trend
    page.click("nav a[data-view=health]")
    health = page.locator("#health-table tbody tr")
    expect(health.first).to_be_visible()
    scores = [float(s) for s in
              page.locator("#health-table tbody tr td:nth-child(5)").all_inner_texts()]
    assert scores == sorted(scores) and len(scores) >= 2
    expect(health.first.locator(".components span").first).to_be_attached()
    expect(health.first.locator("svg.spark")).to_be_attached()
    expect(page.locator("#health-legend")).to_contain_text("growth vs forecast")
    assert health.first.locator("td:nth-child(3)").inner_text() != "–"  # the node's channel
    page.screenshot(path=str(FIGURES / "ui-health.png"), full_page=True)
    page.select_option("#he-level", "channel")
    page.click("#health-filters button[type=submit]")
    expect(page.locator("#health-count")).to_contain_text("channels")
    assert not problems, problems
    page.close()
