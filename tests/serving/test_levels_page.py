"""The planner page's levels (issue 23) in a real browser (Playwright driving Debian's
Chromium), serving a model trained with a hierarchy: the Levels view lists and searches the
aggregate series, a parent node opens in the series view with its reconciled forecast and
band, the reconciliation method can be switched, and a node's series view links up to its
parent, channel and total. Screenshots: benchmarks/figures/ui-levels.png and
ui-aggregate.png. The console must stay free of errors. Under CI=true a missing Chromium or
playwright fails these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.keys import create_key
from serving.service import Service
from tests.browser import FIGURES, chromium, playwright_api, sign_in, watched_page
from tests.serving.conftest import LevelModel, Workspace, make_settings, served_at

pytestmark = pytest.mark.slow  # a real browser: `make test-fast` leaves it out
sync_api = playwright_api()  # skips (fails under CI) without playwright or Chromium


@pytest.fixture(scope="module")
def site(workspace: Workspace, level_model: LevelModel,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The service with the hierarchy model on a loopback port (SQLite), and a planner key."""
    db = tmp_path_factory.mktemp("ui-levels") / "service.db"
    service = Service(make_settings(workspace, f"sqlite:///{db}",
                                    model_uri=level_model.model_uri))
    with served_at(service) as url:
        _, key = create_key(service.db, name="pat.planner", role="planner")
        yield url, key


def test_planner_opens_a_parent_node_a_channel_and_all_skus(site: tuple[str, str],
                                                            level_model: LevelModel):
    url, key = site
    f = level_model.forecaster
    FIGURES.mkdir(parents=True, exist_ok=True)
    expect = sync_api.expect
    with chromium() as browser:
        page, problems = watched_page(browser, viewport={"width": 1366, "height": 900},
                                      failed_requests=True)
        sign_in(page, url, key)
        expect(page.locator("#who-name")).to_have_text("pat.planner (planner)")

        # the Levels view: every aggregate, biggest (the company's total) first; a search
        page.click("nav a[data-view=levels]")
        rows = page.locator("#levels-table tbody tr.clickable")
        expect(rows.first).to_have_attribute("data-level", "total")
        expect(page.locator("#levels-count")).to_contain_text(f"reconciled with {f.reconcile}")
        page.select_option("#lv-level", "parent")
        page.fill("#lv-q", "dst")
        page.click("#levels-filters button[type=submit]")
        page.wait_for_function("() => [...document.querySelectorAll("
                               "'#levels-table tbody tr.clickable')].every("
                               "r => r.dataset.node === 'DST-01')")
        page.screenshot(path=str(FIGURES / "ui-levels.png"), full_page=True)

        # a parent node, all skus: summed history, reconciled forecast and band
        page.locator("#levels-table tbody tr.clickable[data-sku='*']").click()
        expect(page.locator("#series-title")).to_have_text("parent DST-01 · all skus")
        chart = page.locator("#series-chart svg")
        expect(chart.locator("path.history")).to_be_attached()
        expect(chart.locator("polygon.band")).to_be_attached()
        expect(chart.locator(".legend")).to_contain_text("reconciled")
        expect(page.locator("#series-facts")).to_contain_text(str(f.reconcile))
        expect(page.locator("#series-facts")).to_contain_text("10")  # 2 dealers x 5 skus
        assert page.locator("#series-forecast tbody tr").count() == f.horizon
        page.screenshot(path=str(FIGURES / "ui-aggregate.png"), full_page=True)

        # another method: the page reopens the series with it
        page.select_option("#series-method", "none")
        expect(page.locator("#series-facts")).to_contain_text("none")
        expect(chart.locator(".legend")).not_to_contain_text("reconciled")

        # a dealer's series links up the tree: its channel, all skus
        page.goto(f"{url}/ui/#series/DLR-01/SKU-0001")
        up = page.locator("#series-up")
        expect(up).to_contain_text("parent DST-01")
        expect(page.locator("#series-method-form")).to_be_hidden()  # aggregates only
        up.locator("a[data-level=channel]", has_text="all skus").click()
        expect(page.locator("#series-title")).to_have_text("channel dealer · all skus")
        expect(page.locator("#series-chart svg polygon.band")).to_be_attached()
        page.close()
        assert problems == []
