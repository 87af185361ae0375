"""`channelcast monitor` and `channelcast health` on generated data with injected anomalies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from channelcast.cli import main
from models.monitor.vocabulary import ALERT_COLUMNS


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("monitor") / "data"
    assert main(["generate", "--out", str(out), "--nodes", "8", "--skus", "12",
                 "--periods", "100", "--anomalies", "--seed", "2"]) == 0
    return out


def test_monitor_writes_every_alert(data: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    labels = pd.read_csv(data / "anomalies.csv", parse_dates=["onset"])
    out = tmp_path / "alerts.csv"
    since = labels["onset"].min().strftime("%Y-%m-%d")
    assert main(["monitor", "--data", str(data), "--since", since, "--out", str(out)]) == 0
    alerts = pd.read_csv(out, keep_default_na=False)
    assert list(alerts.columns)[: len(ALERT_COLUMNS)] == list(ALERT_COLUMNS)
    assert set(alerts["status"]) <= {"open", "closed"}
    gap = labels[labels["kind"] == "reporting_gap"].iloc[0]
    found = alerts[(alerts["kind"] == "reporting_gap") & (alerts["node_id"] == gap["node_id"])]
    assert not found.empty
    assert "alerts from" in capsys.readouterr().out


def test_monitor_refuses_a_late_since(data: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["monitor", "--data", str(data), "--since", "2199-01-01",
                 "--out", str(tmp_path / "a.csv")])
    assert code == 2 and "give an earlier date" in capsys.readouterr().out


@pytest.mark.parametrize("level", ["node", "parent", "channel"])
def test_health_levels(data: Path, tmp_path: Path, level: str) -> None:
    out = tmp_path / "health.csv"
    assert main(["health", "--data", str(data), "--level", level, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["score"].between(0, 100).all() and set(table["grade"]) <= set("ABCDE")
    assert {"stuffing_score", "open_alerts_value", "explanation"} <= set(table.columns)


def test_health_bad_month(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["health", "--data", str(data), "--month", "1999-01", "--no-alerts",
                 "--out", str(tmp_path / "h.csv")])
    assert code == 2 and "no sell-through in 1999-01" in capsys.readouterr().out


@pytest.mark.slow
def test_dask_engine_gives_the_local_answers(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert main(["ingest", str(data), "--parquet-dir", str(store), "--buckets", "3"]) == 0
    since = pd.read_csv(data / "anomalies.csv")["onset"].min()
    for engine in ("local", "dask"):
        assert main(["monitor", "--data", str(store), "--since", since, "--engine", engine,
                     "--scheduler", "local-cluster:2", "--out",
                     str(tmp_path / f"alerts_{engine}.csv")]) == 0
        assert main(["health", "--data", str(store), "--level", "parent", "--engine", engine,
                     "--scheduler", "local-cluster:2", "--out",
                     str(tmp_path / f"health_{engine}.csv")]) == 0
    for name in ("alerts", "health"):
        local = pd.read_csv(tmp_path / f"{name}_local.csv")
        dask = pd.read_csv(tmp_path / f"{name}_dask.csv")
        assert len(local) > 0
        pd.testing.assert_frame_equal(local, dask, check_exact=False, rtol=1e-9)
