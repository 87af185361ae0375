"""The demo's tour: one request of each kind, printed as curl commands with the answers."""

from __future__ import annotations

import pytest

from serving.settings import Settings
from serving.tour import run_tour


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the tour makes its own
def test_tour_makes_every_request_with_the_expected_status(settings: Settings):
    lines: list[str] = []
    assert run_tour(settings, write=lines.append), "\n".join(lines)
    text = "\n".join(lines)
    for path in ("/v1/forecasts", "/v1/stock-risk", "/v1/inventory", "/v1/sell-through",
                 "/v1/allocations", "/v1/models/reload", "/metrics"):
        assert "127.0.0.1" in text and path in text
    print(text)
    assert text.count("$ curl") == 11 and "HTTP 403" in text and "HTTP 201" in text
