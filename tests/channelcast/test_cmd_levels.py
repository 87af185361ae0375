"""`channelcast backtest` scores every level of the channel tree and names the default
`--reconcile`; `channelcast forecast --level ... --reconcile ...` forecasts aggregates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from channelcast.cli import main
from features.synthetic import generate_channel_data, write_channel_data
from models.hierarchy import COHERENT_METHODS, LEVELS

FAST = ["--horizon", "4", "--models", "snaive,ma", "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small channel with an items.csv grouping its skus."""
    out = tmp_path_factory.mktemp("levels")
    write_channel_data(generate_channel_data(nodes=4, skus=3, periods=50, freq="W", seed=4),
                       out)
    (out / "items.csv").write_text("sku,group\nSKU-0001,G1\nSKU-0002,G1\nSKU-0003,G2\n")
    return out


def test_backtest_prints_and_writes_scores_per_level(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.parquet"
    code = main(["backtest", "--data", str(folder), "--windows", "2", "--warmup", "2",
                 "--out", str(out), *FAST])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "WRMSSE per level" in text and "default --reconcile: " in text
    scores = pd.read_csv(tmp_path / "p.levels.csv")
    assert set(scores["level"]) == set(LEVELS)
    assert set(scores["skus"]) == {"sku", "group", "*"}
    winner = text.split("default --reconcile: ")[1].split()[0]
    assert winner in COHERENT_METHODS
    bottom = scores[(scores["level"] == "node") & (scores["skus"] == "sku")].set_index("method")
    fit = [m for m in COHERENT_METHODS if bottom.loc[m, "wrmsse"] <= bottom.loc["none",
                                                                                "wrmsse"] * 1.01]
    assert winner in (fit or COHERENT_METHODS)  # the rank itself: tests/training/engine
    preds = pd.read_parquet(tmp_path / "p.levels.parquet")
    assert {"q0.025", "q0.975"} <= set(preds.columns)


def test_backtest_without_levels_writes_no_level_files(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", "--data", str(folder), "--windows", "1", "--warmup", "1",
                 "--out", str(tmp_path / "p.parquet"), "--levels", "false", *FAST])
    assert code == 0, capsys.readouterr().out
    assert not (tmp_path / "p.levels.csv").exists()


def test_forecast_a_level_reconciled_adds_up_to_the_nodes(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parent, nodes = tmp_path / "parent.csv", tmp_path / "node.csv"
    for level, out in (("parent", parent), ("node", nodes)):
        code = main(["forecast", "--data", str(folder), "--level", level, "--reconcile",
                     "bottom_up", "--out", str(out), *FAST])
        assert code == 0, capsys.readouterr().out
    up, low = pd.read_csv(parent), pd.read_csv(nodes)
    assert set(up["level"]) == {"parent"} and set(up["reconcile"]) == {"bottom_up"}
    assert {"*", "G1", "SKU-0001"} <= set(up["sku"])
    table = pd.read_csv(folder / "nodes.csv")
    children = table.loc[table["parent_id"] == "DST-01", "node_id"]
    below = low[low["node_id"].isin(children) & low["sku"].str.startswith("SKU")]
    total = up[(up["node_id"] == "DST-01") & (up["sku"] == "*")]
    np.testing.assert_allclose(below.groupby("step")["mean"].sum().to_numpy(),
                               total.sort_values("step")["mean"].to_numpy(), rtol=1e-9)


def test_forecast_refuses_an_unknown_method(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["forecast", "--data", str(folder), "--reconcile", "magic",
              "--out", str(tmp_path / "f.csv"), *FAST])
    assert exc.value.code == 2


@pytest.mark.parametrize("entry", ["backtest", "train", "forecast"])
def test_mlproject_passes_levels_and_reconcile_as_the_cli_reads_them(entry: str) -> None:
    import shlex

    import yaml

    from channelcast.args import config_from_args
    from channelcast.cli import build_parser

    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "MLproject").read_text())
    spec = project["entry_points"][entry]
    values = {k: ("d" if v == "path" else v.get("default", "")) for k, v in
              spec["parameters"].items()}
    values |= {"reconcile": "mint_shrink", "horizon": 8, "windows": 4, "step": 0, "warmup": 3}
    if entry == "forecast":
        values["level"] = "parent"
    quoted = {k: shlex.quote(str(v)) for k, v in values.items()}  # as `mlflow run` does
    argv = shlex.split(spec["command"].format(**quoted))[3:]
    args = build_parser().parse_args(argv)
    assert args.reconcile == "mint_shrink"
    if entry == "forecast":
        assert args.level == "parent"
    else:
        cfg = config_from_args(args)
        assert cfg.levels is True and cfg.reconcile == "mint_shrink"
