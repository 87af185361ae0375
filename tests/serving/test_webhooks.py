"""Webhooks against a local receiver: the body is signed (HMAC-SHA256), a 500 is retried
with backoff, every attempt is recorded, and alert changes reach the receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.app import create_app
from serving.db import Database
from serving.monitor import AlertMonitor
from serving.service import Service
from serving.settings import Settings
from serving.tables import WebhookDeliveryRow
from serving.webhooks import SIGNATURE_HEADER, Message, WebhookSender, sign, verify_signature
from tests.serving.conftest import Workspace, add_keys, make_settings
from tests.serving.payloads import alert_row, json_rows, script_detection

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """A local HTTP receiver answering `statuses` in turn (then 200), keeping every call."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.calls.append((dict(self.headers), body))
            self.send_response(got.statuses.pop(0) if got.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield got
    server.shutdown()
    server.server_close()


def _deliveries(db: Database) -> list[WebhookDeliveryRow]:
    with db.session() as session:
        return list(session.scalars(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id)))


def test_signed_body_retried_after_a_500_and_every_attempt_recorded(db: Database,
                                                                   receiver: Receiver):
    receiver.statuses = [500]
    sender = WebhookSender(db, url=receiver.url, secret=SECRET, attempts=3,
                           backoff_seconds=0.01)
    assert sender.deliver(Message(event="alerts.changed", alert_ids=[7],
                                  payload={"opened": [{"alert_id": 7}]}))
    assert len(receiver.calls) == 2
    for headers, body in receiver.calls:
        assert verify_signature(body, headers[SIGNATURE_HEADER], SECRET)
        assert not verify_signature(body, headers[SIGNATURE_HEADER], "another secret")
        assert json.loads(body)["opened"] == [{"alert_id": 7}]
    assert receiver.calls[0][1] == receiver.calls[1][1]  # the same message, same delivery id
    rows = _deliveries(db)
    assert [(r.attempt, r.status_code) for r in rows] == [(1, 500), (2, 200)]
    assert rows[0].error and "500" in rows[0].error and rows[1].error is None
    assert rows[0].delivery == rows[1].delivery and rows[0].alert_ids == [7]


def test_gives_up_after_the_attempts_and_records_unreachable(db: Database, receiver: Receiver):
    receiver.statuses = [503, 503, 503]
    sender = WebhookSender(db, url=receiver.url, secret=SECRET, attempts=3,
                           backoff_seconds=0.01)
    assert not sender.deliver(Message(event="alerts.changed", alert_ids=[], payload={}))
    dead = WebhookSender(db, url="http://127.0.0.1:9/nothing", secret=SECRET, attempts=1,
                         backoff_seconds=0.01)
    assert not dead.deliver(Message(event="alerts.changed", alert_ids=[], payload={}))
    rows = _deliveries(db)
    assert [r.status_code for r in rows] == [503, 503, 503, None]
    assert "cannot reach http://127.0.0.1:9/nothing" in (rows[-1].error or "")


def test_signature_is_hmac_sha256_of_the_raw_body():
    expected = hmac.new(b"k", b'{"a":1}', hashlib.sha256).hexdigest()
    assert sign(b'{"a":1}', "k") == f"sha256={expected}"
    assert not verify_signature(b'{"a":2}', f"sha256={expected}", "k")
    assert not verify_signature(b'{"a":1}', None, "k")


def test_alert_changes_and_acknowledgements_reach_the_receiver(
        workspace: Workspace, database_url: str, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch):
    week = pd.Timestamp(workspace.new_rows["date"].min())
    node, sku = workspace.new_rows[["node_id", "sku"]].iloc[0]
    script_detection(monkeypatch, {week.date(): [alert_row("demand_spike", node, sku, week, week)]})
    settings = make_settings(workspace, database_url, webhook_url=receiver.url,
                             webhook_secret=SECRET, webhook_backoff_seconds=0.01)
    service = Service(settings)
    with TestClient(create_app(service=service)) as client:
        keys = add_keys(service)
        monitor: AlertMonitor = client.app.state.monitor  # type: ignore[attr-defined]
        rows = json_rows(workspace.new_rows[workspace.new_rows["date"] == week])
        assert client.post("/v1/sell-through", json={"rows": rows},
                           headers={"X-API-Key": keys["erp"]}).status_code == 201
        monitor.join()
        alert_id = client.get("/v1/alerts", headers={"X-API-Key": keys["erp"]}
                              ).json()["alerts"][0]["alert_id"]
        assert client.post(f"/v1/alerts/{alert_id}/ack", json={"note": "checked"},
                           headers={"X-API-Key": keys["planner"]}).status_code == 200
        monitor.join()
    events = [json.loads(body) for _, body in receiver.calls]
    assert [e["event"] for e in events] == ["alerts.changed", "alert.acknowledged"]
    assert events[0]["opened"][0]["kind"] == "demand_spike" and events[0]["closed"] == []
    assert events[1]["alert"]["alert_id"] == alert_id and events[1]["ack_note"] == "checked"
    assert all(verify_signature(body, h[SIGNATURE_HEADER], SECRET) for h, body in receiver.calls)


def test_an_alert_whose_severity_rises_reaches_the_receiver_once(
        workspace: Workspace, database_url: str, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch):
    weeks = sorted(pd.to_datetime(workspace.new_rows["date"].unique()))[:2]
    node, sku = workspace.new_rows[["node_id", "sku"]].iloc[0]
    first = weeks[0]
    script_detection(monkeypatch, {  # medium, then high (escalated), then high again (a re-run)
        weeks[0].date(): [alert_row("demand_drop", node, sku, first, weeks[0], "medium")],
        weeks[1].date(): [alert_row("demand_drop", node, sku, first, weeks[1], "high")]})
    settings = make_settings(workspace, database_url, webhook_url=receiver.url,
                             webhook_secret=SECRET, webhook_backoff_seconds=0.01)
    service = Service(settings)
    with TestClient(create_app(service=service)) as client:
        keys = add_keys(service)
        monitor: AlertMonitor = client.app.state.monitor  # type: ignore[attr-defined]
        for week in weeks:
            rows = json_rows(workspace.new_rows[workspace.new_rows["date"] == week])
            assert client.post("/v1/sell-through", json={"rows": rows},
                               headers={"X-API-Key": keys["erp"]}).status_code == 201
            monitor.join()
        monitor.submit([weeks[1].date()], "re-run")  # still high: no message
        monitor.join()
    events = [json.loads(body) for _, body in receiver.calls]
    assert [len(e["opened"]) for e in events] == [1, 0]
    assert events[1]["escalated"][0]["severity"] == "high"
    assert events[1]["escalated"][0]["alert_id"] == events[0]["opened"][0]["alert_id"]


def test_webhook_settings_are_checked_and_round_trip_through_the_environment():
    with pytest.raises(ValueError, match="CHANNELCAST_WEBHOOK_URL"):
        Settings(webhook_url="file:///etc/passwd")
    with pytest.raises(ValueError, match="CHANNELCAST_WEBHOOK_ATTEMPTS"):
        Settings(webhook_url="http://chat.example/hook", webhook_attempts=0)
    settings = Settings(webhook_url="https://chat.example/hook", webhook_secret=SECRET,
                        webhook_attempts=3)
    again = Settings.from_env(settings.to_env())
    assert (again.webhook_url, again.webhook_secret, again.webhook_attempts) == (
        "https://chat.example/hook", SECRET, 3)
