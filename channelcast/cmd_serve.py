"""`channelcast serve`: the HTTP service (FastAPI under uvicorn), on the champion model.

Settings come from the environment (`serving.settings`), flags override them. The database
is migrated once here, before the workers start; each worker then loads the model (and
replays recorded sell-through over it). With several workers, `/metrics` of any of them sums
all (`serving.metrics.multiprocess_dir`). Slow clients are cut off
(`serving.http_protocol`): a request head (line and headers) not in full within 10 s closes
the connection, one over 16 KiB is 431, an idle keep-alive connection is closed after 5 s,
and a body not received in full within `Settings.body_timeout_seconds` is answered 408
(`serving.middleware.BodyGuard`).
Exit codes: 0 after a clean shutdown, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the command runs: `channelcast --help` stays light
    from serving.settings import Settings

__all__ = ["HEALTHCHECK_SECONDS", "add_parser", "settings_from"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `serve` sub-command."""
    p = sub.add_parser("serve", help="start the HTTP service (forecasts, allocations, risk)",
                       description="Serve API v1 with uvicorn. Keys: `channelcast keys`.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--data", type=Path, default=None,
                   help="data folder with nodes, inventory, central_stock "
                        "(default $CHANNELCAST_DATA; else the model's nodes only)")
    p.add_argument("--model-uri", default=None,
                   help="model to serve (default $CHANNELCAST_MODEL_URI, else "
                        "models:/channelcast-demand@champion)")
    p.add_argument("--database-url", default=None,
                   help="service records (default $CHANNELCAST_DATABASE_URL, else "
                        "sqlite:///channelcast.db)")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db "
                        "in the project folder, as training and the CLI)")
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(handler=_run)


def settings_from(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    """Settings from the environment with the flags given on top."""
    from serving.settings import Settings

    settings = Settings.from_env(environ)
    changes = {"data_dir": args.data, "model_uri": args.model_uri,
               "database_url": args.database_url, "tracking_uri": args.tracking_uri}
    return replace(settings, **{k: v for k, v in changes.items() if v is not None})


#: How long uvicorn's supervisor waits for a worker's answer to its liveness ping. A worker
#: answers from a thread started before it imports the app, so a long startup does not need
#: a long wait; but the supervisor waits this long, handling no signal and restarting no
#: worker, when a worker dies or hangs with a ping in flight (it was 180 s: `serve` then took
#: over 2 minutes to stop after a worker was killed, tests/channelcast/test_cmd_serve.py).
HEALTHCHECK_SECONDS = 30


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from serving.db import migrate
    from serving.http_protocol import UVICORN_OPTIONS
    from serving.metrics import multiprocess_dir

    if args.workers < 1 or not 0 < args.port < 65536:
        print(f"`--workers` must be >= 1 and `--port` in 1..65535; got {args.workers}, "
              f"{args.port}.", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_dir():
        print(f"`--data` {args.data} is not a folder.", file=sys.stderr)
        return 2
    settings = settings_from(args, dict(os.environ))
    try:
        migrate(settings.database_url)
    except Exception as exc:
        print(f"cannot prepare the database {settings.database_url}: {exc}", file=sys.stderr)
        return 2
    os.environ.update(settings.to_env())
    print(f"channelcast serving {settings.model_uri} on http://{args.host}:{args.port} "
          f"({args.workers} worker(s)); records in {settings.database_url}; OpenAPI at "
          f"/docs. Keys: `channelcast keys create --role erp --name NAME`.", flush=True)
    # Workers' metrics meet in a fresh folder named in the environment they inherit.
    with multiprocess_dir(args.workers):
        uvicorn.run("serving.app:app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level,
                    timeout_worker_healthcheck=HEALTHCHECK_SECONDS, **UVICORN_OPTIONS)
    return 0
