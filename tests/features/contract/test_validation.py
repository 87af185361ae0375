"""Validation of a data folder: every broken row named by file, row and column; no row lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from channelcast.cli import main as run_cli
from features.contract.errors import DataContractError
from features.contract.validation import load_validated, validate_folder
from features.periods import parse_freq
from features.schema import COLUMN_ALIASES, TABLES
from tests.conftest import write_folder
from tests.features.contract.contract_cases import (
    DEPENDENT,
    REFUSED,
    ROOT_LINE,
    SUMMARY_LINE,
    refused_parent_folder,
)

NODES_OK = """node_id,parent_id,channel,lead_time_days,review_period_days,priority
R1,,region,0,7,1
N1,R1,dealer,7,7,1
N2,R1,dealer,7,7,2
"""

# Line numbers are in the comments: the header is line 1.
BROKEN = {
    "sell_through.csv": """date,node_id,sku,units,promo
2024-01-01,N1,007,5,0
2024-01-01,N2,007,-3,0
2024-01-01,N1,008,,0
2024-01-08,N1,007,NaN,0
2024-01-08,N1,008,abc,0
2024-13-01,N1,007,1,0
2024-01-10,N1,009,1,0
2024-01-01,N1,007,4,0
2024-01-15,N9,007,1,0
2024-01-15,N1,007,2,yes
2024-01-15,N3,007,1,0
2024-01-15,N1,008,3,1
2024-01-15,N2,008,3,1
""",
    # 2 ok, 3 negative, 4 empty, 5 NaN, 6 text, 7 bad date, 8 Wednesday, 9 repeats row 2,
    # 10 unknown node, 11 bad flag, 12 node in a cycle, 13-14 ok
    "nodes.csv": """node_id,parent_id,channel,lead_time_days,review_period_days,priority
R1,,region,0,7,1
N1,R1,dealer,7,7,1
N2,R1,dealer,7,7,2
N3,N4,dealer,7,7,1
N4,N3,dealer,7,7,1
N5,RX,dealer,7,7,1
N6,N5,dealer,7,7,1
N7,R1,dealer,7,0,1.5
""",
    # 5-6 cycle, 7 unknown parent, 8 child of a refused node, 9 review period 0, priority 1.5
    "inventory.csv": """node_id,sku,on_hand,intransit,as_of,min_qty,max_qty
N1,007,5,0,2024-01-15,5,3
N2,007,5,0,2024-01-15,1,3
""",
    "central_stock.csv": """sku,available,pack_size
007,100,0
008,50,6
""",
}

EXPECTED = [
    "sell_through.csv row 3, column units: -3 is negative; sell-through cannot be negative "
    "(returns belong in a separate column)",
    "sell_through.csv row 4, column units: missing value (empty cell); enter a number",
    "sell_through.csv row 5, column units: missing value ('NaN'); enter a number",
    "sell_through.csv row 6, column units: 'abc' is not a number",
    "sell_through.csv row 7, column date: '2024-13-01' is not a valid date in YYYY-MM-DD",
    "sell_through.csv row 8, column date: 2024-01-10 is a Wednesday but this weekly file is "
    "anchored on Monday; use the period start date (2024-01-08)",
    "sell_through.csv row 9, column date, node_id, sku: (date, node_id, sku) = "
    "(2024-01-01, N1, 007) repeats row 2",
    "sell_through.csv row 10, column node_id: node_id 'N9' is not a node_id in nodes.csv",
    "sell_through.csv row 11, column promo: 'yes' is not 0 or 1",
    "sell_through.csv row 12, column node_id: node 'N3' is refused (nodes.csv row 5, column "
    "parent_id), so its rows are refused too",
    "nodes.csv row 5, column parent_id: node 'N3' is in a parent cycle N3 -> N4 -> N3",
    "nodes.csv row 6, column parent_id: node 'N4' is in a parent cycle N3 -> N4 -> N3",
    "nodes.csv row 7, column parent_id: parent_id 'RX' is not a node_id in nodes.csv",
    "nodes.csv row 8, column parent_id: parent 'N5' is refused (nodes.csv row 7, column "
    "parent_id)",
    "nodes.csv row 9, column review_period_days: 0 is below the minimum 1",
    "nodes.csv row 9, column priority: 1.5 is not a whole number",
    "inventory.csv: missing required column 'in_transit'; column 'intransit' looks like it: "
    "rename it to `in_transit`",
    "inventory.csv row 2, column max_qty: max_qty 3 is below min_qty 5",
    "central_stock.csv row 2, column pack_size: 0 is below the minimum 1",
]


def data_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) - 1


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "broken", BROKEN)


def test_every_broken_row_is_named_by_file_row_and_column(broken: Path) -> None:
    report = validate_folder(broken)
    printed = [str(p) for p in report.problems]
    for fragment in EXPECTED:
        assert any(fragment in line for line in printed), f"not reported: {fragment}\n" + "\n".join(
            printed)
    assert not report.ok
    assert report.freq == "W-MON"
    rules = report.rule_counts()
    for rule in ("below_minimum", "empty_value", "not_a_number", "bad_date", "off_grid_date",
                 "duplicate_key", "unknown_node", "refused_node", "not_a_flag", "cycle",
                 "unknown_parent", "refused_parent", "not_whole_number", "missing_column",
                 "min_above_max"):
        assert rules.get(rule, 0) >= 1, rule


def test_accepted_plus_refused_is_every_input_row(broken: Path) -> None:
    report = validate_folder(broken)
    expected = {  # table: (read, accepted)
        "sell_through": (13, 3), "nodes": (8, 3), "inventory": (2, 0), "central_stock": (2, 1),
    }
    for name, (read, accepted) in expected.items():
        count = report.counts[name]
        assert (count.read, count.accepted, count.refused) == (read, accepted, read - accepted)
        assert len(report.tables[name]) == accepted
    assert report.tables["sell_through"]["node_id"].tolist() == ["N1", "N1", "N2"]
    assert report.tables["nodes"]["node_id"].tolist() == ["R1", "N1", "N2"]


def test_cli_exits_2_and_rejects_file_accounts_for_every_row(
    broken: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rejects = tmp_path / "rejects.csv"
    assert run_cli(["validate", str(broken), "--rejects", str(rejects)]) == 2
    out = capsys.readouterr().out
    assert "sell_through.csv row 3, column units: -3 is negative" in out
    assert "off_grid_date" in out  # count per rule
    assert "sell_through.csv            13            3           10" in out

    frame = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["file", "row", "columns", "reasons", "record"]
    assert not frame.duplicated(["file", "row"]).any()
    report = validate_folder(broken)
    for file in BROKEN:
        table = file.removesuffix(".csv")
        refused = frame[frame["file"] == file]
        assert len(refused) + len(report.tables[table]) == data_lines(broken / file)
        assert refused["reasons"].str.len().gt(0).all()
    row3 = frame[(frame["file"] == "sell_through.csv") & (frame["row"] == "3")].iloc[0]
    assert json.loads(row3["record"]) == {
        "date": "2024-01-01", "node_id": "N2", "sku": "007", "units": "-3", "promo": "0"}
    row12 = frame[(frame["file"] == "nodes.csv") & (frame["row"] == "9")].iloc[0]
    assert row12["columns"] == "review_period_days; priority"
    assert "; " in row12["reasons"]
    inv = frame[(frame["file"] == "inventory.csv") & (frame["row"] == "2")].iloc[0]
    assert inv["reasons"].startswith("missing required column 'in_transit'")
    assert "max_qty 3 is below min_qty 5" in inv["reasons"]


def test_max_print_truncates_and_points_to_rejects(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["validate", str(broken), "--max-print", "2"]) == 2
    out = capsys.readouterr().out
    report = validate_folder(broken)
    roots = report.n_root_problems
    assert roots == report.n_problems - 2  # N3's sell-through row and N6 are counted, not listed
    # whole files first, then rows that refused others: the 2 shown are inventory.csv (missing
    # column) and N3 (cycle, 1 sell-through row below it); N5 and N6 are among the hidden
    assert (f"... and {roots - 2} more problems, with 1 row(s) refused only because of them "
            "(write them all with --rejects FILE)") in out


def test_clean_folder_exits_0_with_typed_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_folder(tmp_path / "clean", {
        "sell_through.csv": "date,node_id,sku,units,price,promo,region_note\n"
                            "2024-01-01,N1,007,5,9.5,0,x\n2024-01-08,N1,007,0,,1,y\n"
                            "2024-01-15,N2,007,2.5,9.5,,\n",
        "nodes.csv": NODES_OK,
    })
    assert run_cli(["validate", str(folder)]) == 0
    assert "no problems" in capsys.readouterr().out
    report = validate_folder(folder)
    assert report.ok and report.problems == []
    st = report.tables["sell_through"]
    assert st["date"].dtype == "datetime64[ns]"
    assert st["units"].dtype == np.float64 and st["price"].dtype == np.float64
    assert st["sku"].tolist() == ["007", "007", "007"]  # leading zeros kept
    assert st["price"].isna().tolist() == [False, True, False]
    assert st["region_note"].tolist() == ["x", "y", ""]  # extra column kept as read
    assert report.tables["nodes"]["parent_id"].isna().tolist() == [True, False, False]
    assert load_validated(folder).counts["sell_through"].accepted == 3


def test_csv_row_number_is_the_file_line(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "lines", {
        "sell_through.csv": "date,node_id,sku,units,note\n"
                            "2024-01-01,N1,A,1,ok\n"          # line 2
                            "\n"                              # line 3, blank
                            '2024-01-01,N1,B,1,"two\nlines"\n'  # lines 4-5
                            "2024-01-01,N1,C,-7,x\n",         # line 6
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(folder, freq="W")
    assert [str(p) for p in report.problems] == [
        "sell_through.csv row 6, column units: -7 is negative; sell-through cannot be negative "
        "(returns belong in a separate column)"
    ]
    assert report.counts["sell_through"].read == 3
    assert any("skipped 1 blank line" in n for n in report.notes)


def test_bad_value_on_line_5_is_row_5(tmp_path: Path) -> None:
    rows = ["2024-01-01,N1,A,1", "2024-01-01,N1,B,2", "2024-01-01,N1,C,3", "2024-01-01,N1,D,x"]
    folder = write_folder(tmp_path / "l5", {
        "sell_through.csv": "date,node_id,sku,units\n" + "\n".join(rows) + "\n",
        "nodes.csv": NODES_OK,
    })
    (problem,) = validate_folder(folder).problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "sell_through.csv", 5, "units", "x")


def test_parquet_rows_are_1_based_and_ids_keep_zeros(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08"]),
        "node_id": ["001", "001", "002"],
        "sku": ["007", "008", "007"],
        "units": [1.0, -2.0, 3.0],
    }).to_parquet(folder / "sell_through.parquet")
    pd.DataFrame({"node_id": ["001", "002"], "parent_id": [None, "001"],
                  "channel": ["direct", "dealer"], "lead_time_days": [1, 2],
                  "review_period_days": [7, 7], "priority": [1, 2]}).to_parquet(
        folder / "nodes.parquet")
    report = validate_folder(folder)
    assert [str(p) for p in report.problems] == [
        "sell_through.parquet row 2, column units: -2 is negative; sell-through cannot be "
        "negative (returns belong in a separate column)"
    ]
    st = report.tables["sell_through"]
    assert st["node_id"].tolist() == ["001", "002"] and st["sku"].tolist() == ["007", "007"]
    assert st["date"].dtype == "datetime64[ns]"
    assert report.tables["nodes"]["priority"].tolist() == [1.0, 2.0]


def test_unknown_node_names_the_id_that_lost_its_zeros(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "zeros", {
        "sell_through.csv": "date,node_id,sku,units\n2024-01-01,7,A,1\n2024-01-01,N1 ,A,1\n",
        "nodes.csv": NODES_OK.replace("N2,R1", "007,R1"),
    })
    lines = [str(p) for p in validate_folder(folder).problems]
    assert lines == [
        "sell_through.csv row 2, column node_id: node_id '7' is not a node_id in nodes.csv "
        "(closest: '007'; were leading zeros lost, e.g. by a spreadsheet?); add the node to "
        "nodes.csv or fix the id",
        "sell_through.csv row 3, column node_id: node_id 'N1 ' is not a node_id in nodes.csv "
        "(closest: 'N1', without the surrounding spaces); add the node to nodes.csv or fix the id",
    ]


def test_missing_column_names_the_closest_existing_one(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "col", {
        "sell_through.csv": "date,node_id,sku,unit\n2024-01-01,N1,A,1\n",
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(folder)
    assert [str(p) for p in report.problems] == [
        "sell_through.csv: missing required column 'units' (closest existing column: 'unit')"]
    assert report.counts["sell_through"].refused == 1


def test_missing_required_file_refuses_dependent_rows(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "nonodes", {
        "sell_through.csv": "date,node_id,sku,units\n2024-01-01,N1,A,1\n",
        "Nodes.csv": NODES_OK,
    })
    report = validate_folder(folder)
    lines = [str(p) for p in report.problems]
    assert lines[0].startswith("nodes.csv|parquet: missing required file: put nodes.csv or "
                               "nodes.parquet in")
    assert "found `Nodes.csv`: rename it" in lines[0]
    assert lines[1].startswith("sell_through.csv: node_id cannot be checked because")
    assert report.counts["sell_through"].refused == 1
    with pytest.raises(DataContractError, match="missing required file"):
        load_validated(folder)


def test_daily_and_monthly_are_inferred(tmp_path: Path) -> None:
    daily = write_folder(tmp_path / "d", {
        "sell_through.csv": "date,node_id,sku,units\n"
        + "".join(f"2024-01-0{d},N1,A,1\n" for d in range(1, 8)),
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(daily)
    assert report.ok and report.freq == "D"
    assert any("D, inferred" in n for n in report.notes)
    monthly = write_folder(tmp_path / "m", {
        "sell_through.csv": "date,node_id,sku,units\n2024-01-01,N1,A,1\n2024-02-01,N1,A,1\n"
                            "2024-03-15,N1,A,1\n2024-04-01,N1,A,1\n",
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(monthly)
    assert report.freq == "MS"
    assert [str(p) for p in report.problems] == [
        "sell_through.csv row 4, column date: 2024-03-15 is not the first day of a month but "
        "this file is monthly; use the period start date (2024-03-01)"]


def test_declared_freq_and_date_format(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "fmt", {
        "sell_through.csv": "date,node_id,sku,units\n07/01/2024,N1,A,1\n08/01/2024,N1,A,1\n"
                            "2024-01-14,N1,A,1\n",
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(folder, freq="W-SUN", date_format="%d/%m/%Y")
    assert report.freq == "W-SUN"
    lines = [str(p) for p in report.problems]
    assert lines == [
        "sell_through.csv row 3, column date: 2024-01-08 is a Monday but this weekly file is "
        "anchored on Sunday; use the period start date (2024-01-07)",
        "sell_through.csv row 4, column date: '2024-01-14' is not a valid date in the declared "
        "format %d/%m/%Y; this date looks like yyyy-mm-dd but other dates in the column do not: "
        "write every date in one format (YYYY-MM-DD, or the one you pass with --date-format)",
    ]
    with pytest.raises(ValueError, match="`freq` must be"):
        parse_freq("fortnightly")


def test_duplicate_nodes_and_self_parent(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "dupnodes", {
        "sell_through.csv": "date,node_id,sku,units\n2024-01-01,N1,A,1\n",
        "nodes.csv": NODES_OK + "N1,R1,dealer,7,7,1\nN8,N8,dealer,7,7,1\n",
    })
    lines = [str(p) for p in validate_folder(folder).problems]
    assert lines == [
        "nodes.csv row 5, column node_id: 'N1' repeats row 3; give each node exactly one row",
        "nodes.csv row 6, column parent_id: node 'N8' is in a parent cycle N8 -> N8; give one of "
        "these nodes an empty parent_id or a parent outside the cycle",
    ]


def test_validation_is_vectorised(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400_000
    dates = pd.date_range("2020-01-06", periods=200, freq="W-MON").strftime("%Y-%m-%d")
    units = rng.poisson(3, n).astype(str).astype(object)
    units[rng.choice(n, 1000, replace=False)] = "-1"
    frame = pd.DataFrame({
        "date": np.asarray(dates)[rng.integers(0, 200, n)],
        "node_id": np.where(rng.random(n) < 0.5, "N1", "N2"),
        "sku": np.char.add("S", np.arange(n).astype(str)),
        "units": units,
    })
    folder = write_folder(tmp_path / "big", {"nodes.csv": NODES_OK})
    frame.to_csv(folder / "sell_through.csv", index=False)
    start = time.perf_counter()
    report = validate_folder(folder)
    assert time.perf_counter() - start < 30
    assert report.counts["sell_through"].refused == 1000
    assert report.rule_counts() == {"below_minimum": 1000}


def test_header_only_files_are_refused(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "empty", {
        "sell_through.csv": "date,node_id,sku,units\n",
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(folder)
    assert [str(p) for p in report.problems] == [
        "sell_through.csv: the file has a header but no data rows; sell_through needs at least "
        "one row"]


def test_channelcast_cli_registers_validate_and_ingest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from channelcast.cli import main

    folder = write_folder(tmp_path / "ok", {
        "sell_through.csv": "date,node_id,sku,units\n2024-01-01,N1,A,1\n",
        "nodes.csv": NODES_OK,
    })
    assert main(["validate", str(folder), "--freq", "W"]) == 0
    assert main(["ingest", str(folder), "--db", str(tmp_path / "x.duckdb")]) == 0
    assert "ingested into" in capsys.readouterr().out


def test_rows_refused_because_of_a_refused_node_are_counted_under_it(tmp_path: Path) -> None:
    report = validate_folder(refused_parent_folder(tmp_path / "rp"))
    assert report.n_root_problems == 2 and report.n_problems == 2 + DEPENDENT
    deps = report.dependents()
    assert set(deps["root_file"]) == {"nodes.csv"} and set(deps["root_row"]) == {3}
    assert dict(zip(deps["file"], deps["rows"], strict=True)) == {
        "nodes.csv": 5, "sell_through.csv": 600, "inventory.csv": 5}
    lines = report.format().splitlines()
    root = lines.index(f"  {ROOT_LINE}")
    assert lines[root + 1] == f"    {SUMMARY_LINE}"
    # the root cause that refused other rows comes before the other root problems
    assert lines[root + 2].startswith("  sell_through.csv row 2, column units: -1 is negative")
    assert (f"2 problem(s); 612 row(s) refused, {DEPENDENT} of them only because another row "
            "was refused") in lines[root - 1]
    assert not [line for line in lines if "is refused" in line]  # none listed one by one
    for name, refused in REFUSED.items():
        count = report.counts[name.removesuffix(".csv")]
        assert count.refused == refused and count.accepted + count.refused == count.read


def test_a_refusing_command_lists_root_causes_not_their_dependents(tmp_path: Path) -> None:
    with pytest.raises(DataContractError) as caught:
        load_validated(refused_parent_folder(tmp_path / "rp"))
    lines = str(caught.value).splitlines()
    assert lines[1] == ROOT_LINE
    assert not [line for line in lines if "is refused" in line]
    assert lines[-1].startswith(f"... and {DEPENDENT} row(s) refused only because a row above")


def test_rejects_keep_every_dependent_row_with_its_root_cause(tmp_path: Path) -> None:
    report = validate_folder(refused_parent_folder(tmp_path / "rp"))
    assert report.write_rejects(tmp_path / "rejects.csv") == sum(REFUSED.values())
    frame = pd.read_csv(tmp_path / "rejects.csv", dtype=str, keep_default_na=False)
    assert frame.groupby("file").size().to_dict() == REFUSED
    assert frame["reasons"].str.len().gt(0).all()
    cause = "'D1' is refused (nodes.csv row 3, column parent_id)"
    dependent = frame[~frame["reasons"].str.contains("is not a node_id|is negative")]
    assert len(dependent) == DEPENDENT
    assert dependent["reasons"].str.contains(cause, regex=False).all()

    def reason(file: str, row: int) -> str:
        return str(frame.loc[(frame["file"] == file) & (frame["row"] == str(row)),
                             "reasons"].item())

    assert reason("nodes.csv", 4) == (f"parent {cause}, so this node is refused too; fix that "
                                      "row first")
    assert reason("nodes.csv", 8) == (f"ancestor {cause}, so its descendant 'N1' and this node "
                                      "are refused too; fix that row first")
    assert reason("inventory.csv", 7) == (
        f"node 'N5' is refused (nodes.csv row 8) because its ancestor {cause}, so its rows are "
        "refused too; fix that row first")


@pytest.mark.parametrize(("found", "contract"), [
    ("qty", "units"), ("Quantity", "units"), ("sales", "units"), ("Units Sold", "units"),
    ("sold", "units"), ("UNITS", "units"), ("store_id", "node_id"), ("Dealer", "node_id"),
    ("location", "node_id"), ("Product", "sku"), ("item_id", "sku"), ("sku_id", "sku"),
    ("week", "date"), ("Period", "date"), ("day", "date"),
])
def test_misnamed_column_gets_rename_it_to_the_contract_name(
    tmp_path: Path, found: str, contract: str
) -> None:
    header = "date,node_id,sku,units".replace(contract, found)
    folder = write_folder(tmp_path / "alias", {
        "sell_through.csv": f"{header}\n2024-01-01,N1,A,1\n", "nodes.csv": NODES_OK})
    assert [str(p) for p in validate_folder(folder).problems] == [
        f"sell_through.csv: missing required column '{contract}'; column '{found}' looks like "
        f"it: rename it to `{contract}`"]


def test_misnamed_parent_and_stock_columns(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "alias2", {
        "sell_through.csv": "date,node_id,sku,units,Stock\n2024-01-01,N1,A,1,4\n",
        "nodes.csv": NODES_OK.replace("parent_id", "parent"),
        "inventory.csv": "node_id,sku,inventory,in_transit,as_of\nN1,A,5,0,2024-01-01\n",
    })
    report = validate_folder(folder)
    assert [str(p) for p in report.first_problems(3, roots_only=True)] == [
        "nodes.csv: missing required column 'parent_id'; column 'parent' looks like it: rename "
        "it to `parent_id`",  # listed before what it causes: every sell-through row refused
        "sell_through.csv: node_id cannot be checked because nodes.csv is refused as a whole "
        "(see above); every row is refused",
        "inventory.csv: missing required column 'on_hand'; column 'inventory' looks like it: "
        "rename it to `on_hand`",
    ]
    assert ("sell_through.csv: column 'Stock' looks like the optional column `on_hand` and is "
            "kept as an extra column; rename it to `on_hand` to use it as such") in report.notes


def test_column_aliases_name_one_contract_column_per_table() -> None:
    for spec in TABLES.values():
        names = [c.name for c in spec.columns]
        aliases = [a for n in names for a in COLUMN_ALIASES.get(n, ())]
        assert len(aliases) == len(set(aliases)), spec.name
        assert not set(aliases) & set(names), spec.name
    assert set(COLUMN_ALIASES) <= {c.name for t in TABLES.values() for c in t.columns}


def test_day_first_dates_name_the_date_format_and_pass_with_it(tmp_path: Path) -> None:
    days = ["01/01/2024", "08/01/2024", "15/01/2024", "22/01/2024"]
    folder = write_folder(tmp_path / "dmy", {
        "sell_through.csv": "date,node_id,sku,units\n" + "".join(f"{d},N1,A,1\n" for d in days),
        "nodes.csv": NODES_OK,
    })
    report = validate_folder(folder)
    assert [str(p) for p in report.problems] == [
        f"sell_through.csv row {row}, column date: '{d}' is not a valid date in YYYY-MM-DD; "
        "dates look like dd/mm/yyyy: pass `--date-format %d/%m/%Y`"
        for row, d in enumerate(days, start=2)]
    report = validate_folder(folder, date_format="%d/%m/%Y")
    assert report.ok and report.freq == "W-MON"
    assert report.tables["sell_through"]["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"]
