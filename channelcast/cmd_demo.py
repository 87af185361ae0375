"""`channelcast demo`: the main job end to end on generated data, with a readable summary.

Today: generate -> validate -> build the training set -> train (a tracked MLflow run and a
registered `challenger` version) -> promote it to `champion` if its backtest beats the
current champion -> forecast a few series with the champion -> decide with it: one
allocation of scarce central stock and the top of the stock-risk list. Then the service
answers one request of each kind, and the demo ends with the monthly channel report of the
data's last full month (HTML and PDF, path printed).
"""

from __future__ import annotations

import argparse
import getpass
import os
import time
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PyFuncModel

from channelcast.cmd_decisions import demo_decisions
from channelcast.cmd_features import summarise_training_set
from features.config import DEFAULT_HORIZON, FAST_LGBM, GENERATOR, TrainConfig
from features.contract.validation import validate_folder
from features.engineering.training_set import build_training_set
from features.synthetic import generate_channel_data, write_channel_data
from models.monitor.alerts import replay
from models.monitor.health import health_index
from models.zoo import check_models
from training.engine.forecast import Forecaster
from training.engine.loading import Loaded
from training.tracking.promotion import promote_stage
from training.tracking.registry import CHAMPION
from training.tracking.settings import StoreSettings, git_commit, store_settings
from training.tracking.stages import train_stage

DEMO_MODELS = "lgbm,ets,snaive,croston,tsb,ma,auto"

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the whole job on generated data and summarise it")
    p.add_argument("--out", type=Path, default=Path("demo_data"), help="folder for the data")
    p.add_argument("--nodes", type=int, default=GENERATOR.nodes,
                   help=f"selling nodes (default {GENERATOR.nodes})")
    p.add_argument("--skus", type=int, default=GENERATOR.skus,
                   help=f"items (default {GENERATOR.skus})")
    p.add_argument("--periods", type=int, default=GENERATOR.periods,
                   help=f"weeks of history (default {GENERATOR.periods})")
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON,
                   help=f"weeks ahead (default {DEFAULT_HORIZON})")
    p.add_argument("--seed", type=int, default=GENERATOR.seed,
                   help=f"random seed (default {GENERATOR.seed})")
    p.add_argument("--models", default=DEMO_MODELS, help=f"models to train (default {DEMO_MODELS})")
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: "
                   "$MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the project folder)")
    p.set_defaults(handler=_run)


def _step(n: int, title: str) -> None:
    print(f"\n[{n}] {title}\n" + "-" * (len(title) + 4))


def _run(args: argparse.Namespace) -> int:
    _step(1, "generate channel data")
    start = time.perf_counter()
    data = generate_channel_data(nodes=args.nodes, skus=args.skus, periods=args.periods,
                                 freq="W", seed=args.seed)
    paths = write_channel_data(data, args.out, fmt="csv")
    sell = data.sell_through
    print(f"{len(sell):,} rows, {sell.groupby(['node_id', 'sku']).ngroups:,} series, "
          f"{len(data.nodes)} nodes, written to {args.out} in {time.perf_counter() - start:.1f} s:")
    for path in paths:
        print(f"  {path}")

    _step(2, "validate the data contract")
    report = validate_folder(args.out)
    print(report.format(max_print=20))
    if not report.ok or report.freq is None:
        print("the generated data did not validate: this is a bug, please report it")
        return 1

    _step(3, "build the training set")
    start = time.perf_counter()
    ts = build_training_set(report.tables["sell_through"], horizon=args.horizon,
                            freq=report.freq, nodes=report.tables["nodes"])
    print(summarise_training_set(ts, time.perf_counter() - start))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    store = store_settings(os.environ, tracking_uri=args.tracking_uri)
    loaded = Loaded(report.tables["sell_through"], report.tables["nodes"], report.freq)
    version = _train_and_promote(args, loaded, store)
    champion = _forecast_and_point(store)
    decider = _decision_forecaster(champion, store, version, loaded.history)
    _decide(args.out, decider)
    _monitor(loaded.history, report.tables["nodes"])
    uri = (f"models:/{store.model_name}@{CHAMPION}" if decider is champion
           else f"models:/{store.model_name}/{version}")
    served = _tour(args.out, store, uri)
    _report(args.out, loaded.history, report.tables["nodes"], progress=not args.quiet)
    return 0 if served else 1


def _tour(data_dir: Path, store: StoreSettings, model_uri: str) -> bool:
    """Start the service briefly and make one request of each kind."""
    from serving.settings import Settings
    from serving.tour import run_tour

    _step(9, "serve: the API for the ERP and planners, one request of each kind")
    ok = run_tour(Settings(model_uri=model_uri, tracking_uri=store.tracking_uri,
                           data_dir=Path(data_dir)))
    print("\nrun it yourself (keys: channelcast keys create --role planner --name YOU):")
    print(f"  MLFLOW_TRACKING_URI={store.tracking_uri} .venv/bin/channelcast serve "
          f"--data {data_dir} --port 8000")
    print("  then open http://127.0.0.1:8000/ui/ (planner page) or /docs (API)")
    return ok


def _report(data_dir: Path, history: pd.DataFrame, nodes: pd.DataFrame, *,
            progress: bool) -> None:
    """The monthly channel report of the data's last full month (HTML, and PDF when
    WeasyPrint finds its system libraries)."""
    from serving.report import build_report, last_full_month

    month = last_full_month(history)
    _step(10, f"report: the channel report of {month}")
    start = time.perf_counter()
    report = build_report(history, nodes, month, source=str(data_dir), progress=progress)
    out = data_dir / "reports" / f"channel-report-{month}.html"
    pdf = out.with_suffix(".pdf")
    try:
        pages = report.write(out, pdf)
        written = f"{out} and {pdf} ({pages} pages)"
    except (ImportError, OSError) as exc:  # WeasyPrint without pango: the HTML is written
        written = f"{out} (no PDF: {exc})"
    print(" ".join(report.summary))
    print(f"written to {written} in {time.perf_counter() - start:.1f} s")
    print(f"the same from the CLI: channelcast report --data {data_dir} --month {month} "
          "--out report.html --pdf report.pdf [--lang zh]")


def _train_and_promote(args: argparse.Namespace, data: Loaded, store: StoreSettings
                       ) -> str | None:
    """Train and register a challenger, promote it if better; returns its version."""
    _step(4, "train: backtest, fit, log to MLflow, register a challenger")
    start = time.perf_counter()
    cfg = TrainConfig(data=args.out, freq=data.freq, horizon=args.horizon, windows=2,
                      warmup=2, models=check_models(args.models.split(",")), lgbm=FAST_LGBM)
    outcome = train_stage(cfg, store=store, commit=git_commit(), data=data,
                          progress=not args.quiet)
    table = outcome.scores.by_model[["model", "wape", "wrmsse", "scaled_pinball", "coverage"]]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    version = outcome.version.version if outcome.version else "?"
    print(f"run {outcome.run_id}: {store.model_name} v{version} is the challenger "
          f"({time.perf_counter() - start:.0f} s)")

    _step(5, "promote the challenger if it beats the champion")
    decision = promote_stage(store=store, by=getpass.getuser() or "demo")
    verdict = "promoted to champion" if decision.promote else "kept as challenger"
    print(f"v{decision.challenger} {verdict}: {decision.reason}")
    return outcome.version.version if outcome.version else None


def _forecast_and_point(store: StoreSettings) -> Forecaster:
    """Forecast two series with the champion; print where to look next; return its
    forecaster."""
    _step(6, "forecast with the champion")
    uri = f"models:/{store.model_name}@{CHAMPION}"
    model = mlflow.pyfunc.load_model(uri)
    keys = model.unwrap_python_model().forecaster.keys.head(2)
    frame = model.predict(keys[["node_id", "sku"]].astype(str), params={"horizon": 4})
    print(f"{uri}.predict(2 series, horizon 4):")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    _print_levels(model)
    print("\nopen the MLflow UI (runs, metrics, plots, registered versions):")
    print(f"  .venv/bin/mlflow ui --backend-store-uri {store.tracking_uri}")
    print("serve the champion over REST (/invocations), from the project's environment:")
    print(f"  PATH=.venv/bin:$PATH MLFLOW_TRACKING_URI={store.tracking_uri} mlflow models serve "
          f"-m {uri} --env-manager local -p 5001")
    return model.unwrap_python_model().forecaster


def _print_levels(model: PyFuncModel) -> None:
    """The champion's reconciled forecast of the whole channel and of its first parent node
    (when it was trained with the channel tree)."""
    hierarchy = model.unwrap_python_model().forecaster.hierarchy
    if hierarchy is None:
        return
    keys = hierarchy.keys
    wanted = pd.concat([keys[(keys["level"] == "total") & (keys["sku"] == "*")],
                        keys[(keys["level"] == "parent") & (keys["sku"] == "*")].head(1)])
    frame = pd.DataFrame(model.predict(wanted[["level", "node_id", "sku"]].astype(str),
                                       params={"horizon": 4}))
    method = frame["reconcile"].iloc[0] if "reconcile" in frame else "?"
    print(f"\nevery level of the channel tree (reconciled with {method}, the backtest's "
          "default; `channelcast forecast --level parent|channel|total`):")
    columns = [c for c in ("level", "node_id", "sku", "date", "mean", "q0.1", "q0.9")
               if c in frame]
    print(frame[columns].to_string(index=False, float_format=lambda v: f"{v:.1f}"))


def _decision_forecaster(champion: Forecaster, store: StoreSettings, version: str | None,
                         history: pd.DataFrame) -> Forecaster:
    """The champion, unless it was trained on other data (an earlier demo with other
    sizes kept its champion): then the version just trained, which knows these series."""
    keys = history[["node_id", "sku"]].drop_duplicates().astype(str)
    known = pd.MultiIndex.from_frame(champion.keys[["node_id", "sku"]].astype(str))
    if version is None or pd.MultiIndex.from_frame(keys).isin(known).all():
        return champion
    uri = f"models:/{store.model_name}/{version}"
    print(f"\n(the champion was trained on other series: decisions use {uri})")
    model = mlflow.pyfunc.load_model(uri)
    return model.unwrap_python_model().forecaster


def _decide(data_dir: Path, forecaster: Forecaster) -> None:
    _step(7, "decide: allocate scarce central stock, rank stock risk")
    start = time.perf_counter()
    print(demo_decisions(data_dir, forecaster, top=10))
    print(f"({time.perf_counter() - start:.1f} s; the same from the CLI: channelcast allocate "
          f"--data {data_dir} --sku SKU, channelcast risk --data {data_dir})")


def _monitor(history: pd.DataFrame, nodes: pd.DataFrame) -> None:
    """The channel monitor over the last 8 periods: top alerts and the health ranking."""
    _step(8, "monitor: alerts of the last 8 periods and the channel health ranking")
    start = time.perf_counter()
    dates = pd.to_datetime(history["date"])
    since = sorted(dates.unique())[-8]
    alerts = replay(history, nodes, since=pd.Timestamp(since).date())
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    top = alerts.assign(r=alerts["severity"].map(rank)).sort_values(["r", "score"],
                                                                    ascending=[True, False])
    print(f"{len(alerts)} alerts since {pd.Timestamp(since):%Y-%m-%d}; the top 5:")
    for row in top.head(5).itertuples():
        print(f"  [{row.severity}] {row.kind}: {str(row.message)[:110]}...")
    health = health_index(history, nodes, alerts=alerts)
    show = health[["node_id", "score", "grade", "explanation"]]
    print(f"\nhealth index {health['month'].iloc[0]}, the 3 weakest and the 3 strongest nodes:")
    print(pd.concat([show.head(3), show.tail(3)]).to_string(index=False))
    print(f"({time.perf_counter() - start:.1f} s; the same from the CLI: channelcast monitor "
          "--data DIR --since DATE --out alerts.csv, channelcast health --data DIR --out "
          "health.csv)")
