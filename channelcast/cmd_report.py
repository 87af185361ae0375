"""`channelcast report`: the monthly channel report of a data folder as HTML (and PDF).

Every number comes from `models.monitor` (KPIs, health index, alerts); the forecasts are the
monitor's one-step expectations (see `serving.report.forecasts`). With `--track` (the
MLproject entry point `report`) the HTML and PDF are logged as artifacts of an MLflow run.
Exit codes: 0 ok, 2 bad input (a month without data names the months that have some).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from channelcast.args import add_partial_arguments, load_folder
from features.contract.errors import DataContractError
from serving.report import Report, build_report
from serving.report.i18n import LANGS

__all__ = ["add_parser", "run_report"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `report` sub-command."""
    p = sub.add_parser(
        "report", help="write the monthly channel report (HTML, optionally PDF)",
        description="The channel report of one month: headline and summary, per channel and "
                    "parent, top/bottom nodes by growth and health, alerts, forecast vs "
                    "actual, allocations (with --database-url), outlook and KPI definitions.",
    )
    p.add_argument("--data", type=Path, required=True, help="data folder (sell_through, nodes)")
    p.add_argument("--month", required=True, metavar="YYYY-MM", help="the month to report")
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    p.add_argument("--pdf", type=Path, default=None, help="also write the report as PDF")
    p.add_argument("--lang", choices=LANGS, default="en", help="en (default) or zh")
    p.add_argument("--database-url", default=None,
                   help="the service's database (allocations and decisions of the month)")
    p.add_argument("--freq", default=None, help="W, D or M (default: inferred)")
    p.add_argument("--track", action="store_true",
                   help="log the HTML (and PDF) as artifacts of an MLflow run (the store of "
                        "MLFLOW_TRACKING_URI, or the project's mlflow.db)")
    add_partial_arguments(p)
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    return run_report(args.data, args.month, args.out, pdf=args.pdf, lang=args.lang,
                      database_url=args.database_url, freq=args.freq,
                      progress=not args.quiet, partial=args, track=args.track)


def run_report(data: Path, month: str, out: Path, *, pdf: Path | None = None,
               lang: str = "en", database_url: str | None = None, freq: str | None = None,
               progress: bool = True, partial: argparse.Namespace | None = None,
               track: bool = False) -> int:
    """Write the report of `month` for the folder `data`; 0 ok, 2 bad input.

    `partial` carries `--accept-partial`/`--rejects` (default: refuse bad rows); `track`
    logs the files written as artifacts of an MLflow run.
    """
    partial = partial or argparse.Namespace(accept_partial=False, rejects=None)
    try:
        loaded = load_folder(data, partial, freq=freq)
    except (DataContractError, OSError, ValueError) as exc:
        print(f"cannot use {data}: {exc}")
        return 2
    start = time.perf_counter()
    try:
        report = build_report(loaded.tables["sell_through"], loaded.tables["nodes"], month,
                              lang=lang, source=str(data), database_url=database_url,
                              progress=progress)
    except ValueError as exc:
        print(f"cannot report {data}: {exc}")
        return 2
    try:
        pages = report.write(out, pdf)
    except (ImportError, OSError) as exc:  # WeasyPrint without its system libraries
        print(f"wrote {out}, but not the PDF {pdf}: {exc}; WeasyPrint needs Debian's pango "
              "(apt-get install libpango-1.0-0 libpangoft2-1.0-0)")
        if track:
            _track(report, data, lang, out, None)
        return 2
    if track:
        _track(report, data, lang, out, pdf, pages)
    print(f"report {report.content.month} ({lang}) written to {out}"
          + (f" and {pdf} ({pages} pages)" if pdf else "")
          + f" in {time.perf_counter() - start:.1f} s")
    return 0


def _track(report: Report, data: Path, lang: str, out: Path, pdf: Path | None,
           pages: int | None = None) -> None:
    """Log the report's files, month, language and size as an MLflow run `report`."""
    import mlflow  # only when tracking: the plain CLI stays quick to start

    from training.tracking.runs import log_params, open_run
    from training.tracking.settings import store_settings

    store = store_settings(os.environ)
    with open_run(store, run_name="report") as run:
        log_params({"data": str(data), "month": report.content.month, "lang": lang})
        mlflow.log_metrics({"report_series": report.content.series,
                            "report_nodes": report.content.nodes,
                            **({"report_pdf_pages": pages} if pages is not None else {})})
        mlflow.log_artifact(str(out), artifact_path="report")
        if pdf is not None:
            mlflow.log_artifact(str(pdf), artifact_path="report")
    print(f"logged as artifacts of MLflow run {run.info.run_id} in {store.tracking_uri}")
