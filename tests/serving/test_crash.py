"""kill -9 during a burst of idempotent writes from 12 clients, restart on the same database,
retry every request with its Idempotency-Key: each ends with exactly one record and its
answer, none stuck (the lease of a crashed request runs out)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from serving.db import Database
from serving.tables import AllocationRow, IdempotencyRow
from tests.serving.conftest import Workspace, workspace  # noqa: F401
from tests.serving.serve_process import environment, new_key, serving

CLIENTS, EACH, KILL_AFTER = 12, 12, 30  # kill -9 once this many answers arrived
SKUS = ("SKU-0001", "SKU-0002", "SKU-0003")


def _body(client: int, n: int) -> dict[str, Any]:
    return {"sku": SKUS[(client + n) % len(SKUS)], "available": 20 + client * EACH + n}


@pytest.mark.slow
def test_kill_9_under_idempotent_writes_loses_nothing_and_doubles_nothing(
        workspace: Workspace, tmp_path: Path):  # noqa: F811
    database_url = f"sqlite:///{tmp_path / 'svc.db'}"
    env = environment(database_url, CHANNELCAST_IDEMPOTENCY_LEASE_SECONDS="2")
    key = new_key(env, tmp_path, role="planner", name="planner")
    answers: dict[str, tuple[int, str]] = {}  # Idempotency-Key -> acknowledged answer
    lock, stop = threading.Lock(), threading.Event()
    requests = {f"c{c}-r{n}": _body(c, n) for c in range(CLIENTS) for n in range(EACH)}

    def client(url: str, c: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for n in range(EACH):
                if stop.is_set():
                    return
                idem = f"c{c}-r{n}"
                try:
                    answer = http.post("/v1/allocations", json=requests[idem], headers={
                        "X-API-Key": key, "Idempotency-Key": idem})
                except httpx.HTTPError:  # the server died: this one stays unacknowledged
                    return
                with lock:
                    answers[idem] = (answer.status_code, answer.text)

    with serving(workspace, env, tmp_path, log_name="first.log") as server:
        threads = [threading.Thread(target=client, args=(server.url, c)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(answers) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(server.process.pid, signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        server.process.wait(timeout=30)
    assert KILL_AFTER <= len(answers) < len(requests), len(answers)
    assert {status for status, _ in answers.values()} == {201}
    unacknowledged = sorted(set(requests) - set(answers))
    db = Database(database_url)
    with db.session() as session:  # requests the kill cut off while they held their key
        in_flight = session.scalar(select(func.count()).select_from(IdempotencyRow)
                                   .where(IdempotencyRow.status_code.is_(None)))
    assert in_flight, "no request was in flight at the kill: the test proves nothing"

    time.sleep(2.5)  # every lease taken before the crash has run out
    replayed = 0
    with serving(workspace, env, tmp_path, log_name="second.log") as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        final: dict[str, Any] = {}
        for idem, body in requests.items():
            again = http.post("/v1/allocations", json=body,
                              headers={"X-API-Key": key, "Idempotency-Key": idem})
            assert again.status_code == 201, (idem, again.status_code, again.text)
            final[idem] = again.json()
            replayed += again.headers.get("idempotent-replayed") == "true"
            if idem in answers:  # acknowledged: the same answer, replayed
                assert again.headers["idempotent-replayed"] == "true"
                assert final[idem] == json.loads(answers[idem][1])

    try:
        with db.session() as session:
            ids = set(session.scalars(select(AllocationRow.id)))
            stuck = session.scalar(select(func.count()).select_from(IdempotencyRow)
                                   .where(IdempotencyRow.status_code.is_(None)))
    finally:
        db.dispose()
    assert {a["id"] for a in final.values()} == ids  # one record per request, no orphan
    assert len(ids) == len(requests) and stuck == 0
    for idem, answer in final.items():  # each record is the request's own
        assert (answer["sku"], answer["available"]) == (requests[idem]["sku"],
                                                        requests[idem]["available"]), idem
    print(f"{len(answers)} acknowledged before kill -9, {in_flight} in flight, "
          f"{len(unacknowledged)} retried after ({replayed - len(answers)} of them answered "
          "from their record, the others run again)")
