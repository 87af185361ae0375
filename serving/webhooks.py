"""Webhooks: alert changes POSTed as signed JSON to `CHANNELCAST_WEBHOOK_URL`.

The body is signed with HMAC-SHA256 under `CHANNELCAST_WEBHOOK_SECRET`; the receiver
recomputes it over the raw body and compares with `X-Channelcast-Signature: sha256=<hex>`
(`verify_signature`). A message that is not answered 2xx is retried with exponential
backoff (tenacity); every attempt, failed or not, is a row of `webhook_deliveries`.
`X-Channelcast-Delivery` is the same for a message's retries, so a receiver can drop
duplicates. Messages are sent from one background thread, in order, never from a request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from tenacity import RetryError, Retrying, stop_after_attempt, wait_exponential

from serving.db import Database
from serving.tables import WebhookDeliveryRow, utcnow

__all__ = ["SIGNATURE_HEADER", "Message", "WebhookSender", "sign", "verify_signature"]

log = logging.getLogger("channelcast.serving")
SIGNATURE_HEADER = "X-Channelcast-Signature"
DELIVERY_HEADER = "X-Channelcast-Delivery"
TIMEOUT_SECONDS = 10.0


def sign(body: bytes, secret: str) -> str:
    """The signature header's value of `body`: `sha256=<hex HMAC-SHA256 under secret>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True when `header` is the signature of the raw `body` under `secret`."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


@dataclass(frozen=True)
class Message:
    """One webhook message: an event name, the alerts it is about, and its JSON payload."""

    event: str
    alert_ids: list[int]
    payload: dict[str, object]


class DeliveryFailedError(RuntimeError):
    """The receiver did not answer 2xx (status and reason kept for the delivery record)."""


class WebhookSender:
    """Delivers `Message`s to one URL from a background thread (see the module docstring)."""

    def __init__(self, db: Database, *, url: str, secret: str, attempts: int,
                 backoff_seconds: float) -> None:
        self.db = db
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="channelcast-webhooks",
                                        daemon=True)
        self._thread.start()

    def send(self, message: Message) -> None:
        """Queue `message` for delivery (returns at once)."""
        self._queue.put(message)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the messages queued so far (waits at most `timeout` seconds)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=timeout)

    def join(self) -> None:
        """Wait until every queued message was delivered or given up (tests, benchmarks)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            try:
                if message is None:
                    return
                self.deliver(message)
            except Exception as exc:  # keep delivering the next messages
                log.error("webhook delivery to %s failed: %s", self.url, exc)
            finally:
                self._queue.task_done()

    def deliver(self, message: Message) -> bool:
        """POST `message` until it is answered 2xx or the attempts run out; True if it was."""
        delivery = uuid.uuid4().hex
        body = json.dumps({"event": message.event, "delivery": delivery, **message.payload},
                          separators=(",", ":"), default=str).encode()
        retrying = Retrying(stop=stop_after_attempt(self.attempts), reraise=False,
                            wait=wait_exponential(multiplier=self.backoff_seconds,
                                                  min=self.backoff_seconds, max=60))
        try:
            for attempt in retrying:
                with attempt:
                    self._attempt(message, delivery, body, attempt.retry_state.attempt_number)
        except RetryError:
            log.warning("webhook %s (%s) not delivered to %s after %d attempts", delivery,
                        message.event, self.url, self.attempts)
            return False
        return True

    def _attempt(self, message: Message, delivery: str, body: bytes, number: int) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.secret),
            DELIVERY_HEADER: delivery, "User-Agent": "channelcast-webhooks/1"})
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"answered {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            error = f"cannot reach {self.url}: {exc}"
        with self.db.session() as session:
            session.add(WebhookDeliveryRow(
                delivery=delivery, event=message.event, attempt=number, url=self.url,
                alert_ids=message.alert_ids, status_code=status, error=error, at=utcnow(),
                seconds=time.perf_counter() - started))
        if error is not None:
            raise DeliveryFailedError(error)
