"""Which engine runs a stage, and the Dask client of the `dask` engine.

`--engine local` (default) runs everything in this process on pandas and numpy.
`--engine dask --scheduler ADDRESS` connects to a running Dask scheduler
(`tcp://host:8786`); `--scheduler local-cluster:N` starts a LocalCluster of N worker
processes with one thread each on this machine (tests, benchmarks, a big single machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from features.config import ENGINES

__all__ = ["EngineConfig", "cluster_size", "connect", "placement"]

LOCAL_CLUSTER = "local-cluster:"


@dataclass(frozen=True)
class EngineConfig:
    """The engine of a run.

    Attributes:
        engine: "local" or "dask".
        scheduler: the Dask scheduler address, or `local-cluster:N`; only with "dask".
    """

    engine: str = "local"
    scheduler: str = ""

    def validate(self) -> EngineConfig:
        if self.engine not in ENGINES:
            raise ValueError(f"`engine` must be one of {', '.join(ENGINES)}; got "
                             f"{self.engine!r}.")
        if self.engine == "dask" and not self.scheduler:
            raise ValueError("`--engine dask` needs `--scheduler ADDRESS` (e.g. "
                             "tcp://10.0.0.5:8786) or `--scheduler local-cluster:N`.")
        if self.scheduler.startswith(LOCAL_CLUSTER):
            _workers(self.scheduler)
        return self

    @property
    def is_dask(self) -> bool:
        return self.engine == "dask"


def _workers(scheduler: str) -> int:
    text = scheduler[len(LOCAL_CLUSTER):]
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"`--scheduler local-cluster:N` needs a worker count N >= 1; got "
                         f"{scheduler!r}.")
    return int(text)


@contextmanager
def connect(scheduler: str, *, memory_limit: str | None = None) -> Iterator[Any]:
    """A `distributed.Client` for `scheduler` (address or `local-cluster:N`), closed after.

    A local cluster has N worker processes with one thread each (LightGBM and the ETS
    search run their own loops; more threads per worker only contend on a small machine).
    """
    from distributed import Client, LocalCluster

    if scheduler.startswith(LOCAL_CLUSTER):
        cluster = LocalCluster(n_workers=_workers(scheduler), threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               memory_limit=memory_limit or "auto")
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    with Client(scheduler) as client:
        yield client


def cluster_size(client: Any) -> dict[str, str]:
    """Workers, threads and memory of the cluster, as MLflow params."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(int(w.get("nthreads", 0)) for w in workers.values())
    memory = sum(int(w.get("memory_limit", 0) or 0) for w in workers.values())
    return {"engine.workers": str(len(workers)), "engine.threads": str(threads),
            "engine.memory_gib": f"{memory / 2**30:.1f}"}


def placement(client: Any, n: int) -> list[str]:
    """The worker that holds partition i, for i < n: the workers' addresses sorted, dealt
    round robin.

    Data-parallel LightGBM bins, bags and ranks each worker by the rows it holds, so a fit is
    only reproducible if every partition's rows sit on the same worker in every run; left to the
    scheduler, placement follows load and work stealing and changes from run to run.
    """
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise RuntimeError("the Dask cluster has no workers; start some or check "
                           "`--scheduler`.")
    return [workers[i % len(workers)] for i in range(n)]
