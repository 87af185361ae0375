"""Security headers on the planner page, the API docs and the API: a Content-Security-Policy
without inline script, no framing, no MIME sniffing, no referrer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.keys import create_key
from serving.service import Service
from tests.serving.conftest import Workspace, make_settings

EXPECTED = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' "
                               "'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
                               "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def client(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    service = Service(make_settings(workspace, f"sqlite:///{tmp_path / 's.db'}"))
    with TestClient(create_app(service=service)) as test_client:
        yield test_client, create_key(service.db, name="erp", role="erp")[1]


@pytest.mark.parametrize("path", ["/ui/", "/docs", "/redoc", "/openapi.json", "/healthz",
                                  "/v1/models/current", "/no-such-page"])
def test_every_answer_carries_the_security_headers(client: tuple[TestClient, str], path: str):
    test_client, key = client
    answer = test_client.get(path, headers={"X-API-Key": key})
    assert answer.status_code in (200, 404)
    assert {k: answer.headers.get(k) for k in EXPECTED} == EXPECTED
    if path in ("/ui/", "/docs"):
        assert "<script>" not in answer.text  # every script is a file: script-src 'self'


def test_refusals_carry_them_too(client: tuple[TestClient, str]):
    test_client, _ = client
    refused = test_client.post("/v1/forecasts", json={"series": []})
    assert refused.status_code == 401
    assert {k: refused.headers.get(k) for k in EXPECTED} == EXPECTED
