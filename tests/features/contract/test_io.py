"""Reading a data folder: text cells, honest row numbers, clear errors for unreadable files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract.errors import DataContractError
from features.contract.io import read_folder, read_table


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_csv_cells_stay_text_with_leading_zeros(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "sell_through.csv",
                           "date,node_id,sku,units\n2024-01-01,001,007,05\n"))
    assert raw.data.column("sku").to_pylist() == ["007"]
    assert raw.data.column("units").to_pylist() == ["05"]
    assert raw.row_numbers.tolist() == [2]
    assert (raw.file, raw.format, raw.n_rows) == ("sell_through.csv", "csv", 1)


def test_csv_row_numbers_follow_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    text = 'a,b\n1,x\n\n2,"y\nz"\n3,w\n\n'
    raw = read_table(write(tmp_path / "t.csv", text))
    assert raw.data.column("a").to_pylist() == ["1", "2", "3"]
    assert raw.row_numbers.tolist() == [2, 4, 6]
    assert raw.blank_lines == 2


def test_bom_and_semicolons_are_understood(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "nodes.csv", b"\xef\xbb\xbfnode_id ;parent_id\nN1;\n"))
    assert raw.columns == ["node_id", "parent_id"]
    assert raw.data.column("parent_id").to_pylist() == [""]


def test_too_many_cells_names_the_physical_line(tmp_path: Path) -> None:
    path = write(tmp_path / "sell_through.csv", 'a,b\n1,"x\ny"\n2,3,4\n')
    with pytest.raises(DataContractError,
                       match=r"sell_through.csv: line 4 has 3 cells but the header has 2"):
        read_table(path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "nodes.csv", b"a,b\n1,2\n3,\xff\n")
    with pytest.raises(DataContractError, match=r"nodes.csv: line 3 is not UTF-8 text"):
        read_table(path)


def test_empty_file_and_duplicate_header(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="line 1 must be the header"):
        read_table(write(tmp_path / "e.csv", ""))
    with pytest.raises(DataContractError, match="column 'a' appears twice in the header"):
        read_table(write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))


def test_parquet_rows_are_1_based(tmp_path: Path) -> None:
    path = tmp_path / "central_stock.parquet"
    pd.DataFrame({"sku": ["007", "008"], "available": [1.0, 2.0]}).to_parquet(path)
    raw = read_table(path)
    assert raw.row_numbers.tolist() == [1, 2]
    assert raw.data.column("sku").to_pylist() == ["007", "008"]


def test_folder_reports_missing_ambiguous_and_unreadable_files(tmp_path: Path) -> None:
    write(tmp_path / "sell_through.csv", "date,node_id,sku,units\n")
    write(tmp_path / "inventory.csv", "a\n")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "inventory.parquet")
    write(tmp_path / "central_stock.parquet", b"not parquet")
    folder = read_folder(tmp_path)
    assert set(folder.tables) == {"sell_through"}
    assert folder.errors["nodes"].rule == "missing_file"
    assert "put nodes.csv or nodes.parquet in" in folder.errors["nodes"].message
    assert folder.errors["inventory"].rule == "ambiguous_file"
    assert folder.errors["central_stock"].rule == "unreadable_file"
    assert folder.errors["central_stock"].file == "central_stock.parquet"
    assert "cannot read as Parquet" in folder.errors["central_stock"].message


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder(tmp_path / "nope")
