"""Chromium driven by Playwright for the browser tests: one requirement check, one launch."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import require

CHROMIUM = Path("/usr/bin/chromium")
FIGURES = Path(__file__).resolve().parents[1] / "benchmarks" / "figures"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def playwright_api() -> ModuleType:
    """`playwright.sync_api`, once playwright and Debian's Chromium are there (CI: required)."""
    require(importlib.util.find_spec("playwright") is not None,
            "browser tests need playwright (pip install -e '.[dev]')")
    require(CHROMIUM.exists(), "browser tests need Debian's Chromium at /usr/bin/chromium "
            "(apt-get install chromium; .ci/run installs it)")
    return importlib.import_module("playwright.sync_api")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium for the length of the block (no network beyond what a page asks)."""
    with playwright_api().sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser: Any, *, failed_requests: bool = False,
                 **options: Any) -> tuple[Any, list[str]]:
    """A new page, and the list its console errors and page errors (and, when asked, failed
    requests) are appended to as they happen."""
    page = browser.new_page(**options)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    if failed_requests:
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    return page, problems


def sign_in(page: Any, url: str, key: str) -> None:
    """Open the planner page at `url` and sign in with `key`."""
    page.goto(f"{url}/ui/")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
