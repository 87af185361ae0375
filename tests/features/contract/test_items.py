"""The optional items table (`sku, group`): the sku groups the hierarchy adds up to."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.contract.validation import validate_folder
from features.synthetic import generate_channel_data, write_channel_data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("items")
    write_channel_data(generate_channel_data(nodes=3, skus=4, periods=20, freq="W", seed=3),
                       path)
    return path


def test_a_clean_items_file_is_read_as_the_items_table(folder: Path) -> None:
    (folder / "items.csv").write_text("sku,group\nSKU-0001,CAT-A\nSKU-0002,CAT-B\n")
    report = validate_folder(folder)
    assert report.ok
    assert report.tables["items"].to_dict("list") == {"sku": ["SKU-0001", "SKU-0002"],
                                                      "group": ["CAT-A", "CAT-B"]}


def test_bad_items_rows_name_file_row_column_and_fix(folder: Path) -> None:
    (folder / "items.csv").write_text("sku,group\nSKU-0001,CAT-A\nSKU-0002,SKU-0003\n"
                                      "SKU-0003,\nSKU-0001,CAT-B\nSKU-0004,*\n")
    report = validate_folder(folder)
    lines = [str(p) for p in report.first_problems(10)]
    assert any(line.startswith("items.csv row 3, column group: group SKU-0003 is also a sku")
               and "rename the group" in line for line in lines)
    assert any(line.startswith("items.csv row 4, column group") and "give every sku its group"
               in line for line in lines)
    assert any(line.startswith("items.csv row 5, column sku") and "one row per sku" in line
               for line in lines)
    assert any(line.startswith("items.csv row 6, column group: group *") for line in lines)
    assert report.tables["items"]["sku"].tolist() == ["SKU-0001"]


def test_a_folder_without_items_has_no_items_table(tmp_path: Path) -> None:
    write_channel_data(generate_channel_data(nodes=2, skus=2, periods=12, freq="W", seed=1),
                       tmp_path)
    report = validate_folder(tmp_path)
    assert report.ok and "items" not in report.tables
