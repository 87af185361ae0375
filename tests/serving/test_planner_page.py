"""The planner page in a real browser (Playwright driving Debian's Chromium): sign in, filter
the risk list, open a series, change an allocation line, approve, see it in the history.
Screenshots of each view go to benchmarks/figures/ui-*.png; the browser's console must stay
free of errors throughout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.keys import create_key
from serving.service import Service
from tests.serving.conftest import Workspace, make_settings, served_at

CHROMIUM = Path("/usr/bin/chromium")
FIGURES = Path(__file__).resolve().parents[2] / "benchmarks" / "figures"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(pip install -e '.[dev]')")
if not CHROMIUM.exists():
    pytest.skip("browser tests need Debian's Chromium at /usr/bin/chromium "
                "(apt-get install chromium; .ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(workspace: Workspace, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[str, str]]:
    """The service on a loopback port (SQLite), and a planner key."""
    db = tmp_path_factory.mktemp("ui") / "service.db"
    service = Service(make_settings(workspace, f"sqlite:///{db}"))
    with served_at(service) as url:
        _, key = create_key(service.db, name="pat.planner", role="planner")
        yield url, key


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield chromium
        chromium.close()


def test_planner_signs_in_filters_reads_a_series_and_decides_an_allocation(
        site: tuple[str, str], browser, workspace: Workspace):  # noqa: ANN001
    url, key = site
    FIGURES.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    expect = sync_api.expect

    # sign in: without a key the page says how to get one
    page.goto(f"{url}/ui/")
    expect(page.locator("#view-signin")).to_be_visible()
    expect(page.locator("#view-signin")).to_contain_text(
        "channelcast keys create --role planner")
    page.screenshot(path=str(FIGURES / "ui-signin.png"))
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#who-name")).to_have_text("pat.planner (planner)")

    # risk overview, then a channel filter
    rows = page.locator("#risk-table tbody tr.clickable")
    expect(rows.first).to_be_visible()
    assert rows.count() > 5
    expect(page.locator("#risk-table tbody tr.clickable svg.spark").first).to_be_attached()
    page.screenshot(path=str(FIGURES / "ui-risk.png"), full_page=True)
    channels = [o for o in page.locator("#f-channel option").all_inner_texts() if o != "all"]
    assert len(channels) >= 2
    page.select_option("#f-channel", channels[0])
    page.click("#risk-filters button[type=submit]")
    expect(page.locator("#risk-count")).to_contain_text("of")
    page.wait_for_function(
        "ch => [...document.querySelectorAll('#risk-table tbody tr.clickable')]"
        ".every(r => r.children[3].textContent === ch)", arg=channels[0])
    filtered = page.locator("#risk-table tbody tr.clickable td:nth-child(4)").all_inner_texts()
    assert filtered and set(filtered) == {channels[0]}

    # a series: history and forecast with the 80% band, model and backtest error
    first = page.locator("#risk-table tbody tr.clickable").first
    node, sku = first.get_attribute("data-node"), first.get_attribute("data-sku")
    first.click()
    expect(page.locator("#series-title")).to_have_text(f"{node} · {sku}")
    chart = page.locator("#series-chart svg")
    expect(chart.locator("path.history")).to_be_attached()
    expect(chart.locator("polygon.band")).to_be_attached()
    expect(chart.locator(".legend")).to_contain_text("80% interval")
    expect(chart).to_contain_text("units per week")
    served = workspace.forecaster.chosen[
        workspace.forecaster.rows_of(__import__("pandas").DataFrame(
            {"node_id": [node], "sku": [sku]}))[0]]
    expect(page.locator("#series-facts")).to_contain_text(str(served))
    expect(page.locator("#series-facts")).to_contain_text("backtest error")
    assert page.locator("#series-forecast tbody tr").count() == workspace.forecaster.horizon
    page.screenshot(path=str(FIGURES / "ui-series.png"), full_page=True)

    # allocation: propose, change a line (the page previews its stock-out effect), approve
    page.click("nav a[data-view=allocation]")
    page.select_option("#a-sku", "SKU-0001")
    page.fill("#a-available", "60")
    page.click("#alloc-form button[type=submit]")
    lines = page.locator("#alloc-table tbody tr")
    expect(lines.first).to_be_visible()
    for reason in page.locator("#alloc-table td.why .reason").all_inner_texts():
        assert "demand over the protection interval" in reason and "stopped by" in reason
    texts = lines.locator("td.p-after").all_inner_texts()
    pick = next(i for i, t in enumerate(texts) if t.split(" → ")[0] != t.split(" → ")[1])
    line = lines.nth(pick)
    qty = line.locator("input.qty")
    proposed = float(qty.input_value())
    assert proposed > 0
    after = line.locator("td.p-after")
    before_text = after.inner_text()
    qty.fill("0")  # take this node's shipment away: its stock-out risk goes back up
    expect(after).to_have_class(re.compile(r"worse"))
    start = before_text.split(" → ")[0]
    expect(after).to_have_text(f"{start} → {start}")
    expect(page.locator("#alloc-total")).to_contain_text("of 60 units")
    page.click("#a-approve")  # no reason yet: refused by the page
    expect(page.locator("#banner")).to_contain_text("Say why")
    page.fill("#a-reason", "store event this weekend")
    page.screenshot(path=str(FIGURES / "ui-allocation.png"), full_page=True)
    page.click("#a-approve")
    expect(page.locator("#banner")).to_contain_text("approved")
    expect(qty).to_be_disabled()
    node_changed = line.get_attribute("data-node")

    # decision history: who, when, what changed
    page.click("nav a[data-view=history]")
    top = page.locator("#history-table tbody tr").first
    expect(top).to_contain_text("approved")
    expect(top).to_contain_text("pat.planner")
    expect(top).to_contain_text(f"{node_changed}: {int(proposed)} → 0")
    expect(top).to_contain_text("store event this weekend")
    page.screenshot(path=str(FIGURES / "ui-history.png"), full_page=True)

    # a tablet: the page fits the width (tables scroll inside their frame)
    page.set_viewport_size({"width": 820, "height": 1180})
    page.click("nav a[data-view=risk]")
    expect(page.locator("#risk-table tbody tr.clickable").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(FIGURES / "ui-risk-tablet.png"))
    page.close()
    assert problems == []
