"""The planner page in a real browser (Playwright driving Debian's Chromium): sign in, filter
the risk list, open a series, change an allocation line, approve, see it in the history; the
same page on a tablet; `/docs` and `/redoc` with no network but the service's. Screenshots of
each view go to benchmarks/figures/ui-*.png; the browser's console must stay free of errors
throughout. Under CI=true a missing Chromium or playwright fails these tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pandas as pd
import pytest

from serving.keys import create_key
from serving.service import Service
from tests.browser import FIGURES, chromium, playwright_api, sign_in, watched_page
from tests.serving.conftest import Workspace, make_settings, served_at

pytestmark = pytest.mark.slow  # a real browser: `make test-fast` leaves it out
sync_api = playwright_api()  # skips (fails under CI) without playwright or Chromium


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
    with chromium() as browser:
        yield browser


def test_planner_signs_in_filters_reads_a_series_and_decides_an_allocation(
        site: tuple[str, str], browser, workspace: Workspace):  # noqa: ANN001
    url, key = site
    FIGURES.mkdir(parents=True, exist_ok=True)
    page, problems = watched_page(browser, viewport={"width": 1366, "height": 900},
                                  failed_requests=True)
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
        workspace.forecaster.rows_of(pd.DataFrame(
            {"node_id": [node], "sku": [sku]}))[0]]
    expect(page.locator("#series-facts")).to_contain_text(str(served))
    expect(page.locator("#series-facts")).to_contain_text("backtest error")
    assert page.locator("#series-forecast tbody tr").count() == workspace.forecaster.horizon
    page.screenshot(path=str(FIGURES / "ui-series.png"), full_page=True)

    # allocation: propose, change a line (the page previews its stock-out effect), approve
    page.click("nav a[data-view=allocation]")
    page.select_option("#a-sku", "SKU-0001")
    on_record = float(workspace.central_stock.set_index("sku").loc["SKU-0001", "available"])
    expect(page.locator("#a-sku option:checked")).to_have_text(
        f"SKU-0001 — {on_record:g} in central stock")
    expect(page.locator("#a-available")).to_have_value(f"{on_record:g}")  # the same number
    expect(page.locator("#a-note")).to_be_hidden()
    page.fill("#a-available", "60")  # a what-if over the stock on record: the page says so
    expect(page.locator("#a-note")).to_have_text(
        f"{on_record:g} in central stock on record; the proposal will split 60.")
    lines = page.locator("#alloc-table tbody tr")
    pick = None
    for sku in sorted(workspace.central_stock["sku"].astype(str)):
        # the first sku whose proposal moves a node's stock-out risk (with the profit objective
        # and the pooled means a small sku may ship only minimums: nothing to preview)
        if sku != "SKU-0001":
            page.select_option("#a-sku", sku)
            page.fill("#a-available", "60")
        with page.expect_response(lambda r: r.url.endswith("/v1/allocations")
                                  and r.request.method == "POST") as posted:
            page.click("#alloc-form button[type=submit]")
        proposal = posted.value.json()["id"]  # wait until the page shows this proposal
        expect(page.locator("#alloc-summary")).to_contain_text(f"#{proposal}")
        for reason in page.locator("#alloc-table td.why .reason").all_inner_texts():
            assert "demand over the protection interval" in reason and "stopped by" in reason
        texts = lines.locator("td.p-after").all_inner_texts()
        pick = next((i for i, t in enumerate(texts)
                     if t.split(" → ")[0] != t.split(" → ")[1]), None)
        if pick is not None:
            break
    assert pick is not None, "no sku's proposal changes any node's stock-out risk"
    line = lines.nth(pick)
    qty = line.locator("input.qty")
    proposed = float(qty.input_value())
    assert proposed > 0
    after = line.locator("td.p-after")
    before_text = after.inner_text()
    reason_before = line.locator("td.why .reason").inner_text()
    assert reason_before.startswith(f"{proposed:g} units")
    qty.fill("0")  # take this node's shipment away: its stock-out risk goes back up
    expect(after).to_have_class(re.compile(r"worse"))
    start = before_text.split(" → ")[0]
    expect(after).to_have_text(f"{start} → {start}")
    # ... and its explanation describes the edited quantity, then the proposal's reason
    expect(line.locator("td.why b")).to_have_text("override")
    reason = line.locator("td.why .reason")
    expect(reason).to_contain_text("Overridden by pat.planner: 0 units;")
    expect(reason).to_contain_text(f"stock-out risk {start} -> {start} (proposal {proposed:g}: ")
    assert reason_before in reason.inner_text()
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

    page.close()
    assert problems == []


def _no_horizontal_overflow(page, table: str) -> bool:  # noqa: ANN001
    """Whether `table`'s frame shows the whole table and the page fits the window's width."""
    return page.evaluate(
        """t => { const w = document.querySelector(t).closest('.table-wrap');
           return w.scrollWidth <= w.clientWidth + 1
             && document.documentElement.scrollWidth <= window.innerWidth + 1; }""", table)


def test_a_tablet_shows_every_column_and_the_central_stock_on_record(
        site: tuple[str, str], browser, workspace: Workspace):  # noqa: ANN001
    url, key = site
    page, problems = watched_page(browser, viewport={"width": 768, "height": 1024})
    expect = sync_api.expect
    sign_in(page, url, key)

    # stock risk: the last column (recent sell-through) is on screen, no sideways scrolling
    expect(page.locator("#risk-table tbody tr.clickable svg.spark").first).to_be_attached()
    last = page.locator("#risk-table tbody tr.clickable").first.locator("td:last-child")
    expect(page.locator("#risk-table th:last-child")).to_be_in_viewport(ratio=1)
    expect(last).to_be_in_viewport(ratio=1)
    assert _no_horizontal_overflow(page, "#risk-table")
    page.screenshot(path=str(FIGURES / "ui-risk-tablet.png"))

    # the central stock changes (an ERP snapshot): the allocation view shows the new number
    # in the sku list and in the available field alike
    central = workspace.central_stock.assign(
        available=lambda c: c["available"].where(c["sku"] != "SKU-0003", 200))
    inventory = workspace.inventory.assign(
        as_of=lambda i: pd.to_datetime(i["as_of"]).dt.strftime("%Y-%m-%d"))
    put = page.request.put(f"{url}/v1/inventory", headers={"X-API-Key": key}, data={
        "inventory": inventory[["node_id", "sku", "on_hand", "in_transit", "as_of"]]
        .to_dict("records"),
        "central_stock": central[["sku", "available", "pack_size"]].to_dict("records")})
    assert put.status == 200, put.text()
    page.click("nav a[data-view=allocation]")
    page.select_option("#a-sku", "SKU-0003")
    expect(page.locator("#a-sku option:checked")).to_have_text("SKU-0003 — 200 in central stock")
    expect(page.locator("#a-available")).to_have_value("200")
    page.click("#alloc-form button[type=submit]")
    expect(page.locator("#alloc-summary")).to_contain_text("200")

    # allocation: every line's last column (bound and reason) is on screen too
    lines = page.locator("#alloc-table tbody tr")
    expect(lines.first).to_be_visible()
    expect(page.locator("#alloc-table th:last-child")).to_be_in_viewport(ratio=1)
    for i in range(lines.count()):
        why = lines.nth(i).locator("td.why")
        why.scroll_into_view_if_needed()
        expect(why).to_be_in_viewport(ratio=0.95)  # subpixel borders aside
    assert _no_horizontal_overflow(page, "#alloc-table")
    page.screenshot(path=str(FIGURES / "ui-allocation-tablet.png"), full_page=True)
    page.close()
    assert problems == []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_work_with_no_network_but_the_service(
        site: tuple[str, str], browser, path: str):  # noqa: ANN001
    url, _ = site
    host = urlsplit(url).netloc
    page, problems = watched_page(browser, viewport={"width": 1366, "height": 900},
                                  failed_requests=True)
    blocked: list[str] = []

    def offline(route) -> None:  # noqa: ANN001
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(f"{url}{path}")
    expect = sync_api.expect
    page.wait_for_load_state("networkidle")
    if path == "/docs":  # Swagger UI drew the operations from /openapi.json
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
        expect(page.locator(".swagger-ui")).to_contain_text("/v1/allocations")
    else:  # ReDoc drew its menu and the operations
        expect(page.locator("[role=menuitem]").first).to_be_visible(timeout=20_000)
        expect(page.locator("body")).to_contain_text("/v1/allocations")
    page.close()
    assert blocked == [], f"{path} tried to reach other hosts: {blocked}"
    assert problems == []
