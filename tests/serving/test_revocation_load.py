"""A key revoked under load on `channelcast serve --workers 2`: no request with it succeeds
later than one database poll (CHANNELCAST_SYNC_SECONDS) plus a margin after the revocation's
answer arrived, on either worker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from serving.keys import create_key, revoke_key
from serving.service import Service
from tests.serving.conftest import Workspace, make_settings, workspace  # noqa: F401
from tests.serving.serve_process import environment, new_key, serving

SYNC_SECONDS = 2.0  # the default poll
MARGIN = 1.0  # a request admitted just before, still finishing; a poll's own time


@pytest.mark.slow
def test_a_revoked_key_stops_within_one_poll_on_every_worker(
        workspace: Workspace, tmp_path: Path):  # noqa: F811
    env = environment(f"sqlite:///{tmp_path / 'svc.db'}",
                      CHANNELCAST_SYNC_SECONDS=str(SYNC_SECONDS))
    victim = new_key(env, tmp_path, role="erp", name="victim")
    admin = new_key(env, tmp_path, role="admin", name="admin")
    seen: list[tuple[float, int]] = []  # (when the answer arrived, status)
    stop = threading.Event()

    def hammer(url: str) -> None:
        while not stop.is_set():  # a new connection each time: either worker may answer
            try:
                status = httpx.get(f"{url}/v1/models/current", timeout=30,
                                   headers={"X-API-Key": victim}).status_code
            except httpx.HTTPError:
                continue
            seen.append((time.monotonic(), status))

    with serving(workspace, env, tmp_path, workers=2) as server:
        threads = [threading.Thread(target=hammer, args=(server.url,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        revoked = httpx.delete(f"{server.url}/v1/keys/victim", headers={"X-API-Key": admin},
                               timeout=30)
        answered = time.monotonic()
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        time.sleep(SYNC_SECONDS + MARGIN + 2)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    before = [s for t, s in seen if t < answered]
    late = [t - answered for t, s in seen if s == 200 and t > answered + SYNC_SECONDS + MARGIN]
    after = [s for t, s in seen if t > answered + SYNC_SECONDS + MARGIN]
    assert before.count(200) > 20, "too little load before the revocation"
    assert late == [], f"{len(late)} requests succeeded {max(late):.2f} s after the revocation"
    assert after and set(after) == {401}
    last_ok = max((t - answered for t, s in seen if s == 200), default=0.0)
    print(f"{len(seen)} requests; the last success arrived {last_ok:.2f} s after the "
          f"revocation's answer (bound {SYNC_SECONDS + MARGIN:g} s)")


def test_a_poll_drops_the_keys_another_worker_revoked(workspace: Workspace,  # noqa: F811
                                                      database_url: str):
    settings = make_settings(workspace, database_url, key_cache_seconds=600, load_model=False)
    here, there = Service(settings), Service(settings)
    here.start()
    try:
        _, key = create_key(here.db, name="soon-gone", role="erp")
        assert here.keys.check(key) is not None
        assert here.keys.cached(key) == (True, here.keys.check(key))  # trusted for 10 min
        revoke_key(there.db, name="soon-gone")  # on another worker
        here.sync_once()
        assert here.keys.cached(key) == (False, None) and here.keys.check(key) is None
    finally:
        here.stop()
        there.db.dispose()
