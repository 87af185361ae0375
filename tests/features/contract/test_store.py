"""DuckDB ingest: validated tables go in and come back unchanged; dirty data stays out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from channelcast.cli import main as run_cli
from features.contract.store import read_meta, read_store, write_store
from features.contract.validation import validate_folder
from tests.conftest import write_folder

FILES = {
    "sell_through.csv": "date,node_id,sku,units,price,promo,note\n"
                        "2024-01-01,N1,007,5,9.5,0,a\n2024-01-08,N1,007,0,,1,\n"
                        "2024-01-01,N2,008,2.5,3,,b\n",
    "nodes.csv": "node_id,parent_id,channel,lead_time_days,review_period_days,priority\n"
                 "R1,,region,0,7,1\nN1,R1,dealer,7,7,1\nN2,R1,dealer,7,7,2\n",
    "inventory.csv": "node_id,sku,on_hand,in_transit,as_of,min_qty,max_qty\n"
                     "N1,007,5,0,2024-01-08,,10\n",
    "central_stock.csv": "sku,available,pack_size\n007,100,6\n008,40,\n",
}


def test_ingest_then_read_back_equals_validated_tables(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "data", FILES)
    db = tmp_path / "cc.duckdb"
    assert run_cli(["ingest", str(folder), "--db", str(db)]) == 0
    stored = read_store(db)
    report = validate_folder(folder)
    assert set(stored) == {"sell_through", "nodes", "inventory", "central_stock"}
    for name, frame in report.tables.items():
        pd.testing.assert_frame_equal(stored[name], frame)
    assert stored["sell_through"]["sku"].tolist() == ["007", "007", "008"]
    meta = read_meta(db).set_index("table_name")
    assert meta.loc["sell_through", "rows_accepted"] == 3
    assert meta.loc["sell_through", "freq"] == "W-MON"
    assert meta.loc["nodes", "source"] == str(folder.resolve())


def test_dirty_folder_is_not_ingested_unless_partial_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = dict(FILES)
    files["sell_through.csv"] += "2024-01-08,N2,008,-1,3,0,c\n"
    folder = write_folder(tmp_path / "dirty", files)
    db = tmp_path / "cc.duckdb"
    assert run_cli(["ingest", str(folder), "--db", str(db)]) == 2
    out = capsys.readouterr().out
    assert "sell_through.csv row 5, column units: -1 is negative" in out
    assert "not ingested: 1 row(s) refused" in out
    assert not db.exists()

    assert run_cli(["ingest", str(folder), "--db", str(db), "--accept-partial"]) == 0
    out = capsys.readouterr().out
    assert "1 refused row(s) were NOT loaded" in out
    stored = read_store(db)
    assert len(stored["sell_through"]) == 3
    assert read_meta(db).set_index("table_name").loc["sell_through", "rows_refused"] == 1


def test_missing_required_file_blocks_even_partial_ingest(tmp_path: Path) -> None:
    files = {k: v for k, v in FILES.items() if k != "nodes.csv"}
    folder = write_folder(tmp_path / "nonodes", files)
    db = tmp_path / "cc.duckdb"
    assert run_cli(["ingest", str(folder), "--db", str(db), "--accept-partial"]) == 2
    assert not db.exists()


def test_reingest_replaces_tables_and_drops_absent_optional_ones(tmp_path: Path) -> None:
    db = tmp_path / "cc.duckdb"
    write_store(validate_folder(write_folder(tmp_path / "a", FILES)), db)
    smaller = {k: v for k, v in FILES.items() if k in ("sell_through.csv", "nodes.csv")}
    smaller["sell_through.csv"] = FILES["sell_through.csv"].split("\n", 2)[0] + "\n" + \
        FILES["sell_through.csv"].split("\n")[1] + "\n"
    written = write_store(validate_folder(write_folder(tmp_path / "b", smaller)), db)
    assert written == {"sell_through": 1, "nodes": 3}
    stored = read_store(db)
    assert set(stored) == {"sell_through", "nodes"}
    assert len(stored["sell_through"]) == 1


def test_read_store_without_a_database_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="channelcast ingest"):
        read_store(tmp_path / "none.duckdb")
