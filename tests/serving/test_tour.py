"""The demo's tour: one request of each kind, printed as curl commands with the answers; the
printed commands, pasted into bash while the tour's service runs, reach it the same way."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest

from serving.settings import Settings
from serving.tour import curl_command, run_tour
from tests.conftest import require

# Sent again, these two answer otherwise, and say why: the period was rolled forward already,
# the allocation was approved. Every other request answers as it did in the tour (a new
# allocation is 201 again, the inventory snapshot is replaced again).
AGAIN = {"/v1/sell-through": ("422", "sell-through batch 1 applied it"),
         "/v1/allocations/1/decision": ("409", "can no longer change")}


def _paste(script: list[str]) -> list[tuple[str, str, str, str]]:
    """(curl line, the tour's status, the status and body got by bash) for every curl."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    export, out = "", []
    for i, line in enumerate(script):
        if line.startswith("export CHANNELCAST_KEY="):
            export = line
        elif line.startswith("curl "):
            tour = next(s for s in script[i + 1:] if s.startswith("# HTTP ")).split()[2]
            run = subprocess.run(["bash", "-c", f"{export}\n{line} -w '\\n%{{http_code}}'"],
                                 capture_output=True, text=True, timeout=120, env=env)
            body, _, status = run.stdout.rpartition("\n")
            out.append((line, tour, status, body))
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the tour makes its own
def test_tour_makes_every_request_and_its_printed_lines_work_in_bash(settings: Settings):
    require(shutil.which("curl") and shutil.which("bash"), "curl and bash are needed to paste "
            "the tour's commands; apt-get install curl")
    lines: list[str] = []
    pasted: list[tuple[str, str, str, str]] = []
    ok = run_tour(settings, write=lines.append,
                  after=lambda _url: pasted.extend(_paste("\n".join(lines).splitlines())))
    text = "\n".join(lines)
    print(text)
    assert ok, text
    for path in ("/v1/forecasts", "/v1/stock-risk", "/v1/inventory", "/v1/sell-through",
                 "/v1/allocations", "/v1/models/reload", "/metrics", "/v1/alerts",
                 "/v1/health", "/v1/aggregates"):
        assert "127.0.0.1" in text and path in text
    assert text.count("\ncurl -s ") == 14 and "# HTTP 403" in text and "# HTTP 201" in text
    assert text.count("\nexport CHANNELCAST_KEY=") == 4  # erp, planner, admin, erp again
    assert len(pasted) == 14
    for line, tour, got, body in pasted:
        url = next(word for word in shlex.split(line) if word.startswith("http://"))
        status, reason = AGAIN.get(urlsplit(url).path, (tour, ""))
        assert got == status and reason in body, (line, tour, got, body)


def test_a_body_with_quotes_and_dollars_reaches_curl_unchanged(tmp_path):
    body = {"node_id": "O'Brien \"$HOME\" `date` \\n", "units": [1.5, None]}
    line = curl_command("POST", "http://127.0.0.1:1/v1/x", body)
    quoted = line.split(" -d ", 1)[1]  # the last word: what bash hands to curl
    echoed = subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True,
                            text=True, check=True)
    assert json.loads(echoed.stdout) == body
    big = curl_command("PUT", "http://127.0.0.1:1/v1/y", body, body_file=tmp_path / "b.json")
    assert big.endswith(f"--data-binary @{tmp_path / 'b.json'}")
    assert json.loads((tmp_path / "b.json").read_text()) == body
