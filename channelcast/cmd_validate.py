"""`channelcast validate` and `channelcast ingest`: check a data folder, load it into DuckDB.

Exit codes: 0 clean (or loaded with --accept-partial), 2 bad input.
Row numbers in messages are what the user sees: the CSV line (header = line 1, first data
row = row 2) or the 1-based Parquet row index.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from features.contract.partitioned import write_partitioned
from features.contract.report import ValidationReport
from features.contract.store import write_store
from features.contract.validation import validate_folder
from features.periods import parse_freq

__all__ = ["add_parser"]

_ROWS = ("rows are CSV line numbers (header = line 1, first data row = 2) or 1-based Parquet "
         "row indexes")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `validate` and `ingest` sub-commands."""
    v = sub.add_parser(
        "validate", help="check a data folder against the data contract",
        description="Check sell_through, nodes, inventory and central_stock (CSV or Parquet) in "
                    f"DIR; print every problem with file, row, column and fix ({_ROWS}). "
                    "Exit 0 when clean, 2 otherwise.",
    )
    _add_common(v)
    v.set_defaults(handler=_run_validate)

    i = sub.add_parser(
        "ingest", help="validate a data folder and load it into a DuckDB file",
        description="Validate DIR and write the accepted tables, plus a _meta table, into an "
                    "embedded DuckDB database. Refuses to load when anything is refused, "
                    "unless --accept-partial.",
    )
    _add_common(i)
    i.add_argument("--db", type=Path, default=None, help="DuckDB database file to write")
    i.add_argument("--parquet-dir", type=Path, default=None, metavar="STORE",
                   help="also (or instead) write sell_through as Parquet partitioned by series, "
                        "for `--engine dask` (see README, Running on a Dask cluster)")
    i.add_argument("--buckets", type=int, default=None, metavar="N",
                   help="partitions of the Parquet store (default: one per 5,000 series)")
    i.add_argument("--accept-partial", action="store_true",
                   help="load the accepted rows even when some rows are refused")
    i.set_defaults(handler=_run_ingest)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, metavar="DIR", help="the data folder")
    p.add_argument("--freq", type=_freq, default=None,
                   help="W, D or M (also W-MON ... W-SUN); default (or \"\"): inferred from the "
                        "dates")
    p.add_argument("--date-format", default=None, metavar="FMT",
                   help="strptime format of dates, e.g. %%d/%%m/%%Y (default: YYYY-MM-DD)")
    p.add_argument("--rejects", type=Path, default=None, metavar="FILE",
                   help="write every refused row (file, row, columns, reasons, record) to CSV")
    p.add_argument("--max-print", type=int, default=200, metavar="N",
                   help="print at most N problems (default 200)")


def _freq(value: str) -> str | None:
    if not value.strip():  # MLproject passes `--freq ""` for "infer it"
        return None
    try:
        parse_freq(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _validate(args: argparse.Namespace) -> ValidationReport | None:
    try:
        report = validate_folder(args.dir, freq=args.freq, date_format=args.date_format)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return None
    print(report.format(max_print=args.max_print))
    if args.rejects is not None:
        n = report.write_rejects(args.rejects)
        print(f"wrote {n:,} refused row(s) to {args.rejects}")
    return report


def _run_validate(args: argparse.Namespace) -> int:
    report = _validate(args)
    return 0 if report is not None and report.ok else 2


def _run_ingest(args: argparse.Namespace) -> int:
    if args.db is None and args.parquet_dir is None:
        print("error: give `--db FILE` and/or `--parquet-dir STORE` (where to ingest to)")
        return 2
    report = _validate(args)
    if report is None:
        return 2
    if not report.ok:
        if report.file_problems:
            print(f"not ingested: {len(report.file_problems)} problem(s) with whole files "
                  "(missing, unreadable or missing columns); fix them first")
            return 2
        if not args.accept_partial:
            print(f"not ingested: {report.n_refused:,} row(s) refused; fix them, or load the "
                  "accepted rows with --accept-partial")
            return 2
    if args.db is not None:
        written = write_store(report, args.db, source=args.dir)
        summary = ", ".join(f"{name} {n:,}" for name, n in written.items())
        print(f"ingested into {args.db}: {summary} row(s); freq {report.freq}")
    if args.parquet_dir is not None:
        path = write_partitioned(report.tables["sell_through"], args.parquet_dir,
                                 freq=str(report.freq), nodes=report.tables.get("nodes"),
                                 buckets=args.buckets)
        n_parts = len(list((path / "sell_through").glob("part-*.parquet")))
        print(f"wrote {len(report.tables['sell_through']):,} sell_through row(s) to {path} "
              f"({n_parts} partition(s) by series); freq {report.freq}")
    if report.n_refused:
        print(f"{report.n_refused:,} refused row(s) were NOT loaded "
              "(write them out with --rejects FILE)")
    return 0
