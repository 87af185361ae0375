"""`channelcast allocate`, `risk`, `policy-backtest` and the demo's decisions, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from channelcast.cli import main
from channelcast.cmd_decisions import demo_decisions
from features.config import TrainConfig
from features.synthetic import generate_channel_data, write_channel_data
from models.allocation.planned import DEMAND_SOURCE
from models.allocation.table import COLUMNS
from serving.channel import load_folder
from serving.decisions import allocation_lines, risk_rows
from serving.model_store import load_model
from serving.schemas import AllocationIn, RiskIn
from training.engine.forecast import fit_forecaster
from training.tracking.promotion import promote_stage
from training.tracking.settings import StoreSettings
from training.tracking.stages import train_stage


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    write_channel_data(generate_channel_data(nodes=5, skus=4, periods=60, freq="W", seed=4),
                       out)
    return out


@pytest.fixture(autouse=True)
def no_champion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty tracking store (never the project's mlflow.db): decisions fit models now."""
    uri = f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="module")
def champion(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreSettings]:
    """A store whose champion (version 1) was trained on `folder`."""
    store = StoreSettings.local(tmp_path_factory.mktemp("mlflow"))
    saved = mlflow.get_tracking_uri()
    train_stage(TrainConfig(data=folder, windows=1, warmup=1, models=("snaive", "ma", "auto")),
                store=store)
    assert promote_stage(store=store, by="tester").promote
    yield store
    mlflow.set_tracking_uri(saved)


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
    assert text.startswith("model: fitted now: ma, tsb, auto (no champion registered at sqlite")
    assert "bound" in text and "units allocated" in text
    table = pd.read_csv(out)
    assert list(table.columns) == [*COLUMNS, DEMAND_SOURCE, "policy"]
    assert set(table[DEMAND_SOURCE]) <= {"forecast", "pooled"}
    assert table["allocated"].sum() <= 40 and (table["allocated"] % 2 == 0).all()


def test_allocate_objective_profit_keeps_stock_central_units_ships_it(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = {}
    for objective in ("profit", "units"):
        out = tmp_path / f"{objective}.csv"
        code = main(["allocate", "--data", str(folder), "--sku", _sku(folder), "--available",
                     "5000", "--pack-size", "1", "--models", "ma,auto", "--objective",
                     objective, "--out", str(out)])
        text = capsys.readouterr().out
        assert code == 0, text
        assert f"objective {objective}" in text
        shipped[objective] = pd.read_csv(out)
    assert shipped["profit"]["allocated"].sum() < shipped["units"]["allocated"].sum()
    assert (shipped["profit"]["bound"] == "holding").any()


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
    assert text.startswith("model: fitted now: ma, tsb, auto (no champion registered at sqlite")
    assert "risk_class" in text and "stocked node x sku lines" in text
    table = pd.read_csv(out)
    value = table["expected_lost_value"].fillna(-1).to_numpy()
    assert (value[:-1] >= value[1:]).all() or table["expected_lost_value"].isna().any()


def test_policy_backtest_prints_coverage_and_the_policy_table(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy-backtest", "--data", str(folder), "--start", "40",
                 "--models", "ma,tsb,auto", "--scarcity", "0.7,1.0", "--margin-rate", "0.4",
                 "--objective", "profit", "--no-planned-promotions"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "cover_80" in text and "fair_share_sales" in text and "truth.parquet" in text
    assert "oracle" in text and "headroom_fill" in text and "lost_margin" in text
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


def test_risk_and_allocate_use_the_champion_and_answer_as_the_service(
        folder: Path, champion: StoreSettings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    served = load_model("models:/channelcast-demand@champion",
                        tracking_uri=champion.tracking_uri)
    tables = load_folder(folder, model_nodes=None)
    origin = f"{served.forecaster.origin:%Y-%m-%d}"
    line = f"model: channelcast-demand version 1 (champion, origin {origin})\n"

    out = tmp_path / "risk.csv"
    code = main(["risk", "--data", str(folder), "--tracking-uri", champion.tracking_uri,
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and text.startswith(line), text
    mine = pd.read_csv(out, dtype={"node_id": str, "sku": str})
    rows, matched = risk_rows(served, tables, RiskIn(top=10_000))
    theirs = pd.DataFrame([r.model_dump() for r in rows])
    assert matched == len(mine)
    assert list(zip(mine["node_id"], mine["sku"], strict=True)) == \
        list(zip(theirs["node_id"], theirs["sku"], strict=True))
    for col in ("demand_mean", "p_stockout", "expected_lost_units", "p_excess"):
        assert mine[col].to_numpy() == pytest.approx(theirs[col].to_numpy(), abs=1e-9), col

    sku = _sku(folder)
    out = tmp_path / "alloc.csv"
    code = main(["allocate", "--data", str(folder), "--sku", sku, "--available", "40",
                 "--pack-size", "2", "--tracking-uri", champion.tracking_uri, "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and text.startswith(line), text
    mine = pd.read_csv(out, dtype={"node_id": str, "sku": str})
    lines, _ = allocation_lines(served, tables, AllocationIn(sku=sku, available=40, pack_size=2))
    assert list(mine["node_id"]) == list(lines["node_id"].astype(str))
    for col in ("allocated", "demand_mean", "p_stockout_after"):
        assert mine[col].to_numpy() == pytest.approx(lines[col].to_numpy(), abs=1e-9), col

    code = main(["risk", "--data", str(folder), "--tracking-uri", champion.tracking_uri,
                 "--fit", "--models", "snaive,ma"])
    assert code == 0
    assert capsys.readouterr().out.startswith("model: fitted now: snaive, ma (--fit)\n")


def test_a_champion_of_other_series_falls_back_or_refuses_when_named(
        champion: StoreSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    write_channel_data(generate_channel_data(nodes=3, skus=6, periods=60, freq="W", seed=9),
                       other)
    code = main(["risk", "--data", str(other), "--tracking-uri", champion.tracking_uri,
                 "--models", "snaive,ma", "--top", "3"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert text.startswith("model: fitted now: snaive, ma (champion channelcast-demand "
                           f"version 1 does not fit {other}: "), text
    assert "series are unknown to it" in text.splitlines()[0]
    code = main(["risk", "--data", str(other), "--tracking-uri", champion.tracking_uri,
                 "--model-uri", "models:/channelcast-demand/1"])
    text = capsys.readouterr().out
    assert code == 2 and "does not fit" in text and "--fit" in text, text


def test_policy_backtest_accepts_partial_data(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in folder.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    sell = pd.read_csv(bad / "sell_through.csv")
    sell.loc[3, "units"] = -2
    sell.to_csv(bad / "sell_through.csv", index=False)
    args = ["policy-backtest", "--data", str(bad), "--start", "40", "--models", "ma,auto",
            "--scarcity", "0.7"]
    assert main(args) == 2
    assert "--accept-partial" in capsys.readouterr().out
    rejects = tmp_path / "refused.csv"
    code = main([*args, "--accept-partial", "--rejects", str(rejects)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"1 refused row(s) left out of {bad} (each with its reason in {rejects})" in text
    assert len(pd.read_csv(rejects)) == 1
