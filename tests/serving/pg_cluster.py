"""A throwaway PostgreSQL server for the persistence tests, when CI did not start one.

`.ci/run` starts a cluster and exports CHANNELCAST_TEST_POSTGRES_URL; outside CI the test
session starts its own from the Debian binaries (initdb in a temporary folder, a free port on
127.0.0.1, as the `postgres` user when running as root), or the PostgreSQL tests are skipped
with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from serving.live import free_port

__all__ = ["Cluster", "find_bin", "start_cluster"]


@dataclass
class Cluster:
    url: str
    data: Path
    bin: Path
    user: str | None

    def stop(self) -> None:
        _run(self, ["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"],
             check=False)
        shutil.rmtree(self.data.parent, ignore_errors=True)


def find_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, if PostgreSQL is installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists():
            return Path(folder)
    return None


def _run(cluster: Cluster, argv: list[str], *, check: bool = True
         ) -> subprocess.CompletedProcess[str]:
    command = [str(cluster.bin / argv[0]), *argv[1:]]
    if cluster.user:
        command = ["runuser", "-u", cluster.user, "--", *command]
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)


def start_cluster() -> tuple[Cluster | None, str]:
    """A running throwaway cluster, or None and why not."""
    pg_bin = find_bin()
    if pg_bin is None:
        return None, "PostgreSQL is not installed (apt-get install -y postgresql)"
    user = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return None, "running as root without `runuser` to start PostgreSQL as postgres"
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="channelcast-pg-"))
    data = root / "data"
    if user:
        shutil.chown(root, user=user)
        os.chmod(root, 0o755)
    port = free_port()
    cluster = Cluster(url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                      data=data, bin=pg_bin, user=user)
    try:
        _run(cluster, ["initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E",
                       "UTF8", "--no-sync"])
        _run(cluster, ["pg_ctl", "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                       f"-p {port} -k {root} -h 127.0.0.1 -F", "start"])
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        shutil.rmtree(root, ignore_errors=True)
        return None, f"could not start a throwaway PostgreSQL: {detail.strip()[:300]}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return cluster, "started"
        time.sleep(0.2)
    cluster.stop()
    return None, "the throwaway PostgreSQL did not accept connections within 20 s"
