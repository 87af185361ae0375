"""`channelcast backtest` and `forecast` on a folder with a refused row: refused without
`--accept-partial` (the message names the flag), run on the accepted rows with it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from channelcast.cli import main
from features.synthetic import generate_channel_data, write_channel_data


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small data folder whose sell_through.csv row 7 has a negative price."""
    out = tmp_path_factory.mktemp("bad")
    write_channel_data(generate_channel_data(nodes=3, skus=3, periods=40, freq="W", seed=2),
                       out)
    sell = pd.read_csv(out / "sell_through.csv", dtype=str)
    sell.loc[5, "price"] = "-1.5"
    sell.to_csv(out / "sell_through.csv", index=False)
    return out


def test_backtest_refuses_a_folder_with_a_refused_row_and_names_the_flag(
        bad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", "--data", str(bad), "--horizon", "4", "--windows", "1",
                 "--warmup", "1", "--models", "snaive,ma", "--out", str(tmp_path / "p.parquet"),
                 "--rejects", str(tmp_path / "r.csv")])
    text = capsys.readouterr().out
    assert code == 2, text
    assert "1 row(s) refused" in text and "--accept-partial" in text
    assert "sell_through.csv row 7, column price" in text
    assert not (tmp_path / "p.parquet").exists() and not (tmp_path / "r.csv").exists()


def test_backtest_with_accept_partial_runs_and_writes_the_rejects(
        bad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.parquet"
    code = main(["backtest", "--data", str(bad), "--horizon", "4", "--windows", "1",
                 "--warmup", "1", "--models", "snaive,ma", "--out", str(out),
                 "--accept-partial"])
    text = capsys.readouterr().out
    rejects = bad / "rejects.csv"
    assert code == 0, text
    assert (f"--accept-partial: 1 refused row(s) left out of {bad} (each with its reason in "
            f"{rejects})") in text
    assert out.exists()
    refused = pd.read_csv(rejects)
    assert list(refused["row"]) == [7] and list(refused["columns"]) == ["price"]
    assert '"price":"-1.5"' in refused["record"].iloc[0]


def test_forecast_with_accept_partial_and_a_rejects_path(
        bad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, rejects = tmp_path / "f.csv", tmp_path / "sub" / "refused.csv"
    args = ["forecast", "--data", str(bad), "--horizon", "2", "--models", "snaive,ma",
            "--calibration-windows", "1", "--out", str(out)]
    assert main(args) == 2
    assert "--accept-partial" in capsys.readouterr().out
    code = main([*args, "--accept-partial", "--rejects", str(rejects)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"1 refused row(s) left out of {bad} (each with its reason in {rejects})" in text
    assert len(pd.read_csv(rejects)) == 1 and len(pd.read_csv(out)) == 9 * 2
