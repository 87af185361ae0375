"""`channelcast report`: the monthly channel report of a data folder as HTML (and PDF).

Every number comes from `models.monitor` (KPIs, health index, alerts); the forecasts are the
monitor's one-step expectations (see `serving.report.forecasts`). Exit codes: 0 ok, 2 bad
input (a month without data names the months that have some).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from channelcast.args import add_partial_arguments, load_folder
from features.contract.errors import DataContractError
from serving.report import build_report
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
    add_partial_arguments(p)
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    return run_report(args.data, args.month, args.out, pdf=args.pdf, lang=args.lang,
                      database_url=args.database_url, freq=args.freq,
                      progress=not args.quiet, partial=args)


def run_report(data: Path, month: str, out: Path, *, pdf: Path | None = None,
               lang: str = "en", database_url: str | None = None, freq: str | None = None,
               progress: bool = True, partial: argparse.Namespace | None = None) -> int:
    """Write the report of `month` for the folder `data`; 0 ok, 2 bad input.

    `partial` carries `--accept-partial`/`--rejects` (default: refuse bad rows).
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
        return 2
    print(f"report {report.content.month} ({lang}) written to {out}"
          + (f" and {pdf} ({pages} pages)" if pdf else "")
          + f" in {time.perf_counter() - start:.1f} s")
    return 0
