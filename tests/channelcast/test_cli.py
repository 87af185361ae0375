"""The `channelcast` command as a whole: progress on stderr (`--quiet` hides it) and normal
runs free of RuntimeWarning / FutureWarning noise."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from channelcast.cli import build_parser, main
from features.synthetic import generate_channel_data, write_channel_data


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated data with series that end or start inside the calibration windows (seed 0:
    8 series without a single actual there, which once gave "Mean of empty slice")."""
    out = tmp_path_factory.mktemp("data")
    write_channel_data(generate_channel_data(nodes=4, skus=6, periods=60, freq="W", seed=0),
                       out)
    return out


@pytest.fixture(autouse=True)
def no_champion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty tracking store (never the project's mlflow.db): decisions fit models now."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")


def _backtest(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["backtest", "--data", str(folder), "--horizon", "4", "--windows", "2",
            "--warmup", "1", "--models", "snaive,ma,croston,auto", "--out", str(out), *extra]


def test_backtest_shows_progress_on_stderr(folder: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_backtest(folder, tmp_path / "p.parquet")) == 0
    captured = capsys.readouterr()
    assert "backtest" in captured.err and "9/9" in captured.err  # 3 cutoffs x 3 models
    assert "backtest:" not in captured.out  # results on stdout stay clean


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_hides_progress(folder: Path, tmp_path: Path, where: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = _backtest(folder, tmp_path / "p.parquet")
    argv = ["--quiet", *argv] if where == "before" else [*argv, "--quiet"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "prediction rows" in captured.out


def test_quiet_is_off_by_default() -> None:
    assert build_parser().parse_args(["risk", "--data", "x"]).quiet is False


def test_risk_and_forecast_run_without_warnings(folder: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        for category in (RuntimeWarning, FutureWarning, ConvergenceWarning,
                         pd.errors.SettingWithCopyWarning):
            warnings.simplefilter("error", category)
        assert main(["forecast", "--data", str(folder), "--horizon", "4", "--models",
                     "ets,snaive,ma,croston,tsb,auto", "--out", str(tmp_path / "f.parquet"),
                     "--quiet"]) == 0
        assert main(["risk", "--data", str(folder), "--models", "ets,snaive,ma,tsb,auto",
                     "--quiet"]) == 0
    assert "stocked node x sku lines" in capsys.readouterr().out


def _registered(module: str) -> dict[str, str | None]:
    """The sub-commands `module` registers, with their one-line help."""
    import argparse
    import importlib

    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(f"channelcast.{module}").add_parser(sub)
    helps = {action.dest: action.help for action in sub._choices_actions}
    return {name: helps.get(name) for name in sub.choices}


def test_the_command_table_is_what_the_modules_register() -> None:
    from channelcast.cli import COMMANDS

    modules = dict.fromkeys(module for module, _ in COMMANDS.values())
    registered = {name: (module, text) for module in modules
                  for name, text in _registered(module).items()}
    assert registered == COMMANDS


def test_help_imports_no_command_module() -> None:
    import subprocess
    import sys

    code = ("import sys; from channelcast.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('channelcast.cmd_backtest', 'lightgbm', 'mlflow', 'pandas',"
            " 'dask') if m in sys.modules]\nprint('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert "HEAVY []" in done.stdout and "policy-backtest" in done.stdout


def test_a_command_parses_the_same_with_only_its_module_imported() -> None:
    argv = ["risk", "--data", "x", "--quiet"]
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))
