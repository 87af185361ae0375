"""The HTML report in Chromium, offline: no console errors, charts drawn, nothing broken.

Every request other than the report's own file is refused, so a report that needed the
network would show it here. The first screen is saved as benchmarks/figures/report-en.png
and report-zh.png (linked from the README). Under CI=true a missing browser fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from features.synthetic import generate_channel_data
from serving.report import build_report
from tests.browser import FIGURES, chromium, playwright_api, watched_page

pytestmark = pytest.mark.slow  # a real browser: `make test-fast` leaves it out
sync_api = playwright_api()  # skips (fails under CI) without playwright or Chromium


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_renders_offline_without_errors(browser, lang: str,  # noqa: ANN001
                                               tmp_path: Path) -> None:
    data = generate_channel_data(nodes=6, skus=3, periods=70, freq="W", seed=1)
    path = tmp_path / f"report-{lang}.html"
    build_report(data.sell_through, data.nodes, "2024-03", lang=lang).write(path)
    page, problems = watched_page(browser, viewport={"width": 1280, "height": 900},
                                  failed_requests=True)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        "file://") else route.abort())
    page.goto(path.as_uri())
    assert page.locator("h2").count() >= 10
    box = page.locator(".chart svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || "
                           "i.naturalWidth === 0).length")
    assert broken == 0
    FIGURES.mkdir(parents=True, exist_ok=True)
    shot = FIGURES / f"report-{lang}.png"  # the README links these
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert problems == []
