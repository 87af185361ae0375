"""`channelcast monitor` and `channelcast health`: alerts and the channel health index.

`monitor` replays every period from `--since` to the end as the monitor would have run then
(each period sees only rows dated up to it) and writes every alert raised, with its final
status. `health` writes the health index of one month with its components. Both read a data
folder (validated) or a partitioned store (`channelcast ingest DIR --parquet-dir STORE`),
read whole by `--engine local` or part by part on the workers by `--engine dask` (the same
answers). Exit codes: 0 ok, 2 bad input.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from channelcast.args import add_engine_arguments, add_partial_arguments, write_table
from features.contract.errors import DataContractError
from features.contract.partitioned import Store, is_store, open_store
from features.contract.validation import load_validated, refused_note
from models.monitor.alerts import replay
from models.monitor.health import health_index
from training.dask.cluster import EngineConfig, connect
from training.dask.monitor import health_dask, monitor_dask
from training.engine.loading import rejects_file

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `monitor` and `health` sub-commands."""
    m = sub.add_parser(
        "monitor", help="replay the channel monitor and write every alert raised",
        description="Replay every period from --since (default: the last) to the end as the "
                    "monitor would have run then, using rows dated up to that period only, "
                    "and write every alert (kind, severity, node, sku, evidence period, "
                    "expected, observed, message, final status).",
    )
    _add_data(m)
    m.add_argument("--since", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="first period to replay (default: the last period only)")
    m.add_argument("--out", type=Path, required=True, help="CSV file of the alerts")
    m.set_defaults(handler=_run_monitor)

    h = sub.add_parser(
        "health", help="write the channel health index of one month",
        description="Score every node (parent, channel) 0-100 for one month, with each "
                    "component's value, score and contribution, grade A-E and the trend.",
    )
    _add_data(h)
    h.add_argument("--month", default=None, metavar="YYYY-MM",
                   help="the month (default: the last with data)")
    h.add_argument("--level", choices=("node", "parent", "channel"), default="node",
                   help="node (default), parent or channel")
    h.add_argument("--out", type=Path, required=True, help="CSV file of the index")
    h.add_argument("--no-alerts", action="store_true",
                   help="leave out the open-alerts component (faster: no replay of the month)")
    h.set_defaults(handler=_run_health)


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True,
                   help="data folder (sell_through, nodes) or a partitioned store")
    p.add_argument("--freq", default=None, help="W, D or M (default: inferred)")
    add_engine_arguments(p)
    add_partial_arguments(p)


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD; got {text!r}") from err


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    try:
        if is_store(args.data):
            store = open_store(args.data)
            nodes = store.nodes()
            history = store.load_history()
            return history, nodes if nodes is not None else pd.DataFrame(
                {"node_id": history["node_id"].unique()})
        rejects = rejects_file(args.data, args.rejects)
        report = load_validated(args.data, freq=args.freq, accept_partial=args.accept_partial,
                                rejects=rejects)
    except (DataContractError, OSError, ValueError) as exc:
        print(f"cannot use {args.data}: {exc}")
        return None
    note = refused_note(report, rejects)
    if note:
        print(note)
    return report.tables["sell_through"], report.tables["nodes"]


def _dask(args: argparse.Namespace) -> tuple[EngineConfig, Store] | None:
    try:
        return EngineConfig(args.engine, args.scheduler or "").validate(), open_store(args.data)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cannot use {args.data} on Dask: {exc}")
        return None


def _run_monitor_dask(args: argparse.Namespace) -> int:
    opened = _dask(args)
    if opened is None:
        return 2
    engine, store = opened
    start = time.perf_counter()
    with connect(engine.scheduler) as client:
        alerts = monitor_dask(client, store, since=None if args.since is None
                              else args.since.date())
    print(f"{len(alerts):,} alerts on Dask ({time.perf_counter() - start:.1f} s)")
    write_table(alerts, args.out)
    return 0


def _run_monitor(args: argparse.Namespace) -> int:
    if args.engine == "dask":
        return _run_monitor_dask(args)
    loaded = _load(args)
    if loaded is None:
        return 2
    history, nodes = loaded
    last = pd.to_datetime(history["date"]).max()
    if args.since is not None and args.since > last:
        print(f"--since {args.since:%Y-%m-%d} is after the last period of {args.data} "
              f"({last:%Y-%m-%d}); give an earlier date.")
        return 2
    start = time.perf_counter()
    alerts = replay(history, nodes, since=None if args.since is None else args.since.date())
    seconds = time.perf_counter() - start
    first = args.since or last
    print(f"{len(alerts):,} alerts from {first:%Y-%m-%d} to {last:%Y-%m-%d} "
          f"({history.groupby(['node_id', 'sku']).ngroups:,} series, {seconds:.1f} s)")
    if len(alerts):
        counts = alerts.groupby(["kind", "severity"]).size().unstack(fill_value=0)
        print(counts.to_string())
    write_table(alerts, args.out)
    return 0


def _month_alerts(history: pd.DataFrame, nodes: pd.DataFrame, month: str | None
                  ) -> pd.DataFrame | None:
    """The alerts raised during the month (for the open-alerts component)."""
    dates = pd.to_datetime(history["date"])
    period = pd.Period(month, freq="M") if month else dates.max().to_period("M")
    inside = dates[dates.dt.to_period("M") == period]
    if inside.empty:
        return None
    return replay(history, nodes, since=inside.min().date(), until=inside.max().date())


def _run_health(args: argparse.Namespace) -> int:
    if args.engine == "dask":
        return _run_health_dask(args)
    loaded = _load(args)
    if loaded is None:
        return 2
    history, nodes = loaded
    try:
        alerts = None if args.no_alerts else _month_alerts(history, nodes, args.month)
        table = health_index(history, nodes, month=args.month, level=args.level,
                             alerts=alerts)
    except ValueError as exc:
        print(f"cannot score {args.data}: {exc}")
        return 2
    return _show_health(table, args)


def _run_health_dask(args: argparse.Namespace) -> int:
    opened = _dask(args)
    if opened is None:
        return 2
    engine, store = opened
    with connect(engine.scheduler) as client:
        try:
            alerts = None
            if not args.no_alerts:
                alerts = _dask_month_alerts(client, store, args.month)
            table = health_dask(client, store, month=args.month, level=args.level,
                                alerts=alerts)
        except ValueError as exc:
            print(f"cannot score {args.data}: {exc}")
            return 2
    return _show_health(table, args)


def _dask_month_alerts(client: object, store: Store, month: str | None) -> pd.DataFrame:
    """The alerts raised during the month, on the cluster (as `_month_alerts`)."""
    period = pd.Period(month or str(store.meta["last_date"])[:7], freq="M")
    return monitor_dask(client, store, since=period.start_time.date(),
                        until=period.end_time.date())


def _show_health(table: pd.DataFrame, args: argparse.Namespace) -> int:
    key = {"node": "node_id", "parent": "parent_id", "channel": "channel"}[args.level]
    show = table[[key, "rank", "score", "grade", "change_vs_prev", "explanation"]]
    print(f"health index {table['month'].iloc[0] if len(table) else args.month} "
          f"({args.level}, worst first):")
    print(show.head(10).to_string(index=False))
    write_table(table, args.out)
    return 0
