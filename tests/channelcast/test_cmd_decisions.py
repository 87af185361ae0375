"""`channelcast allocate`, `risk`, `policy-backtest` and the demo's decisions, end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from channelcast.cli import main
from channelcast.cmd_decisions import demo_decisions
from features.synthetic import generate_channel_data, write_channel_data
from models.allocation_table import COLUMNS
from training.forecast import fit_forecaster


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    write_channel_data(generate_channel_data(nodes=5, skus=4, periods=60, freq="W", seed=4),
                       out)
    return out


def _sku(folder: Path) -> str:
    central = pd.read_csv(folder / "central_stock.csv")
    inventory = pd.read_csv(folder / "inventory.csv")
    return str(central[central["sku"].isin(inventory["sku"])]["sku"].iloc[0])


def test_allocate_prints_the_explained_table_and_writes_csv(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "alloc.csv"
    code = main(["allocate", "--data", str(folder), "--sku", _sku(folder), "--available", "40",
                 "--pack-size", "2", "--models", "ma,tsb,auto", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "bound" in text and "units allocated" in text
    table = pd.read_csv(out)
    assert list(table.columns) == [*COLUMNS, "policy"]
    assert table["allocated"].sum() <= 40 and (table["allocated"] % 2 == 0).all()


@pytest.mark.parametrize("args, cause", [
    (["--pack-size", "0"], "pack_size"),
    (["--exclude", "NOPE"], "NOPE"),
    (["--min", "oops"], "NODE=UNITS"),
])
def test_allocate_bad_input_exits_2_with_the_cause(
        folder: Path, capsys: pytest.CaptureFixture[str], args: list[str], cause: str) -> None:
    code = main(["allocate", "--data", str(folder), "--sku", _sku(folder), "--available", "9",
                 "--models", "ma,auto", *args])
    text = capsys.readouterr().out
    assert code == 2 and cause in text and "Traceback" not in text


def test_risk_prints_the_ranked_list(folder: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "risk.csv"
    code = main(["risk", "--data", str(folder), "--top", "5", "--models", "ma,tsb,auto",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "risk_class" in text and "stocked node x sku lines" in text
    table = pd.read_csv(out)
    value = table["expected_lost_value"].fillna(-1).to_numpy()
    assert (value[:-1] >= value[1:]).all() or table["expected_lost_value"].isna().any()


def test_policy_backtest_prints_coverage_and_the_policy_table(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy-backtest", "--data", str(folder), "--start", "40",
                 "--models", "ma,tsb,auto", "--scarcity", "0.7,1.0"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "cover_80" in text and "fair_share_sales" in text and "truth.parquet" in text
    assert main(["policy-backtest", "--data", str(folder), "--scarcity", "x"]) == 2
    code = main(["policy-backtest", "--data", str(folder), "--start", "40",
                 "--models", "lgbm,ma,auto", "--lgbm-refit-every", "0"])
    text = capsys.readouterr().out
    assert code == 2 and "lgbm_refit_every" in text and "must be >= 1" in text


def test_demo_decisions_shows_one_allocation_and_the_top_risks(folder: Path) -> None:
    sell = pd.read_csv(folder / "sell_through.csv", parse_dates=["date"])
    nodes = pd.read_csv(folder / "nodes.csv")
    forecaster = fit_forecaster(sell, freq="W-MON", horizon=4, nodes=nodes,
                                models=("ma", "tsb", "auto"))
    text = demo_decisions(folder, forecaster, top=3)
    assert text.startswith("allocation of ") and "stock risk, top 3" in text
