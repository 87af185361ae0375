"""`channelcast report`: writes the HTML for a month, refuses a month without data."""

from __future__ import annotations

from pathlib import Path

import pytest

from channelcast.cli import main
from features.synthetic import generate_channel_data, write_channel_data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report") / "data"
    data = generate_channel_data(nodes=6, skus=3, periods=60, freq="W", seed=4)
    write_channel_data(data, root, fmt="csv")
    return root


def test_report_writes_html(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                            ) -> None:
    out = tmp_path / "r" / "report.html"
    assert main(["report", "--data", str(folder), "--month", "2024-01", "--out", str(out),
                 "--lang", "zh", "-q"]) == 0
    assert "渠道月度报告" in out.read_text(encoding="utf-8")
    assert f"report 2024-01 (zh) written to {out}" in capsys.readouterr().out


def test_month_without_data_is_exit_2(folder: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--data", str(folder), "--month", "1999-12", "--out", str(out),
                 "-q"]) == 2
    said = capsys.readouterr().out
    assert "no sell-through in 1999-12; months with data: 2023-01 .. " in said
    assert not out.exists()
