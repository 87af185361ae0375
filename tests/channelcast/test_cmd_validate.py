"""`channelcast validate` and `ingest` on the console: root causes first, fixes that name the
flag or the column name to use, every refused row in the rejects file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from channelcast.cli import main as run_cli
from tests.conftest import write_folder
from tests.features.contract.contract_cases import (
    DEPENDENT,
    NODES_HEADER,
    REFUSED,
    ROOT_LINE,
    SUMMARY_LINE,
    refused_parent_folder,
)

NODES = NODES_HEADER + "N1,,dealer,7,7,1\n"


def test_validate_prints_the_root_cause_then_one_line_for_the_rows_below_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = refused_parent_folder(tmp_path / "rp")
    rejects = tmp_path / "rejects.csv"
    assert run_cli(["validate", str(folder), "--rejects", str(rejects)]) == 2
    lines = capsys.readouterr().out.splitlines()
    listed = [line for line in lines if line.startswith("  ") and "," in line]
    assert listed[:3] == [f"  {ROOT_LINE}", f"    {SUMMARY_LINE}",
                          "  sell_through.csv row 2, column units: -1 is negative; sell-through "
                          "cannot be negative (returns belong in a separate column)"]
    assert f"{DEPENDENT} of them only because another row was refused" in "\n".join(lines)
    assert f"wrote {sum(REFUSED.values())} refused row(s) to {rejects}" in lines

    frame = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert frame.groupby("file").size().to_dict() == REFUSED
    assert not frame.duplicated(["file", "row"]).any()
    for file, refused in REFUSED.items():  # accepted + refused == read, per file
        read = len((folder / file).read_text().splitlines()) - 1
        assert f"{file:<16} {read:>12,} {read - refused:>12,} {refused:>12,}" in "\n".join(lines)


def test_validate_with_max_print_still_counts_the_rows_below_hidden_causes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = refused_parent_folder(tmp_path / "rp")
    assert run_cli(["validate", str(folder), "--max-print", "0"]) == 2
    assert (f"  ... and 2 more problems, with {DEPENDENT} row(s) refused only because of them "
            "(write them all with --rejects FILE)") in capsys.readouterr().out


def test_ingest_accept_partial_loads_the_rows_not_below_the_refused_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = refused_parent_folder(tmp_path / "rp")
    db = tmp_path / "x.duckdb"
    assert run_cli(["ingest", str(folder), "--db", str(db)]) == 2
    assert run_cli(["ingest", str(folder), "--db", str(db), "--accept-partial"]) == 0
    out = capsys.readouterr().out
    assert "sell_through 119, nodes 2, inventory 1" in out
    assert f"{sum(REFUSED.values())} refused row(s) were NOT loaded" in out


def test_validate_says_rename_qty_to_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_folder(tmp_path / "qty", {
        "sell_through.csv": "date,node_id,sku,qty\n2024-01-01,N1,A,1\n", "nodes.csv": NODES})
    assert run_cli(["validate", str(folder)]) == 2
    assert ("  sell_through.csv: missing required column 'units'; column 'qty' looks like it: "
            "rename it to `units`") in capsys.readouterr().out.splitlines()


def test_validate_names_the_date_format_and_passes_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dates = ["01/01/2024", "08/01/2024", "15/01/2024"]
    folder = write_folder(tmp_path / "dmy", {
        "sell_through.csv": "date,node_id,sku,units\n" + "".join(f"{d},N1,A,1\n" for d in dates),
        "nodes.csv": NODES,
    })
    assert run_cli(["validate", str(folder)]) == 2
    out = capsys.readouterr().out
    assert ("  sell_through.csv row 4, column date: '15/01/2024' is not a valid date in "
            "YYYY-MM-DD; dates look like dd/mm/yyyy: pass `--date-format %d/%m/%Y`") in out
    assert run_cli(["validate", str(folder), "--date-format", "%d/%m/%Y"]) == 0
    assert "no problems: every row was accepted" in capsys.readouterr().out
