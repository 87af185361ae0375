"""`channelcast report`: writes the HTML for a month, refuses a month without data; the
MLproject entry point `report` logs the files to MLflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from channelcast.cli import main
from features.synthetic import generate_channel_data, write_channel_data

ROOT = Path(__file__).resolve().parents[2]


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


def test_mlproject_report_logs_html_and_pdf_as_artifacts(folder: Path, tmp_path: Path) -> None:
    """`mlflow run . -e report` (the project's environment): the HTML and PDF are artifacts
    of the run `mlflow run` started, with month and language as params."""
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking)
    experiment = client.create_experiment("reports", artifact_location=(tmp_path / "a").as_uri())
    venv = Path(sys.executable).parent
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking,
           "PATH": f"{venv}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(venv / "mlflow"), "run", str(ROOT), "-e", "report", "--env-manager", "local",
         "--experiment-id", experiment, "-P", f"data={folder}", "-P", "month=2024-01",
         "-P", "lang=zh", "-P", f"out={tmp_path / 'out'}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    (run,) = client.search_runs([experiment])
    assert run.data.params["month"] == "2024-01" and run.data.params["lang"] == "zh"
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert "report/channel-report-2024-01-zh.html" in logged, (logged, done.stdout[-2000:])
    if done.returncode == 0:  # 1: WeasyPrint without pango (the HTML is logged still)
        assert "report/channel-report-2024-01-zh.pdf" in logged
        assert run.data.metrics["report_pdf_pages"] >= 1
