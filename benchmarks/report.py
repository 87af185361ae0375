"""Monthly channel report benchmark (issue 22): time and peak memory of one report.

    .venv/bin/python benchmarks/report.py [--case generated|walmart|all] [--out DIR]

Cases (each run in a process of its own, so the peak RSS is that case's):
- `generated`: 30,000 generated series (300 nodes x 100 skus, 104 weeks, seed 5), the report
  of the last full month;
- `walmart`: ../shared/data/walmart_store_dept as contract sell_through with a stock flow
  (`benchmarks/monitor.py`'s `load_walmart`), the report of the last full month.
Prints one markdown row per case: series, month, seconds to build the numbers and the HTML,
seconds to write the PDF, pages, HTML size, peak RSS of the process. Goal: < 60 s, < 4 GiB.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402

from features.synthetic import generate_channel_data  # noqa: E402
from serving.report import build_report, last_full_month  # noqa: E402

CASES = ("generated", "walmart")
HEADER = ("| case | series | month | numbers + HTML (s) | PDF (s) | pages | HTML (KiB) "
          "| peak RSS (GiB) |\n|---|---|---|---|---|---|---|---|")


def _data(case: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if case == "generated":
        data = generate_channel_data(nodes=300, skus=100, periods=104, seed=5)
        return data.sell_through, data.nodes
    from benchmarks.monitor import load_walmart

    return load_walmart()


def run_case(case: str, out: Path) -> str:
    """One report of `case`: a markdown table row."""
    history, nodes = _data(case)
    series = history.groupby(["node_id", "sku"]).ngroups
    month = last_full_month(history)
    start = time.perf_counter()
    report = build_report(history, nodes, month, source=case)
    built = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pages = report.write(out / f"report-{case}.html", out / f"report-{case}.pdf")
    pdf = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    size = (out / f"report-{case}.html").stat().st_size / 1024
    return (f"| {case} | {series:,} | {month} | {built:.1f} | {pdf:.1f} | {pages} | "
            f"{size:,.0f} | {peak:.2f} |")


def main() -> None:
    """Run the cases (each in its own process) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=(*CASES, "all"), default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "report")
    args = parser.parse_args()
    if args.case != "all":
        print(run_case(args.case, args.out))
        return
    print(HEADER)
    for case in CASES:
        done = subprocess.run([sys.executable, __file__, "--case", case, "--out",
                               str(args.out)], check=True, capture_output=True, text=True)
        print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
