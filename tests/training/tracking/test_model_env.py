"""The registered model carries its own environment: its code (`code/features`, `code/models`,
`code/training`) and pinned requirements that cover every package it imports, so that
`mlflow models serve` with MLflow's default environment manager (a virtualenv built from the
model's `python_env.yaml`) answers on a machine without the repository."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.artifacts import download_artifacts
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from features.config import FAST_LGBM
from features.synthetic import generate_channel_data
from tests.conftest import require
from training.engine.forecast import Forecaster, fit_forecaster
from training.tracking.pyfunc import REQUIREMENTS, log_forecast_model
from training.tracking.registry import CHALLENGER, register_challenger

NAME = "channelcast-demand"
REQUEST = {"horizon": 3, "quantiles": [0.1, 0.9]}
# Imported when installed, not needed: opentelemetry's resources try psutil, scikit-learn rich.
OPTIONAL = {"psutil", "rich", "brotli"}  # imported only when present (brotli: urllib3, try/except)
# Loads the model as a machine without the repository would, predicts and says which
# distributions it imported and where `training` came from.
_PROBE = """
import json, sys
from importlib.metadata import packages_distributions
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
out = model.predict(pd.DataFrame(json.loads(sys.argv[2])), params=json.loads(sys.argv[3]))
import training
owners = packages_distributions()
tops = {m.split(".")[0] for m in list(sys.modules)}
third = {t: owners[t] for t in tops - set(sys.stdlib_module_names) if t in owners
         and not t.startswith("_") and t not in ("features", "models", "training")}
print(json.dumps({"training": training.__file__, "imported": third,
                  "predictions": out.to_json(orient="records", date_format="iso")}))
"""


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Forecaster]]:
    """A LightGBM + ETS model registered in a temporary store: (tracking uri, model dir,
    forecaster)."""
    folder = tmp_path_factory.mktemp("model_env")
    data = generate_channel_data(nodes=3, skus=4, periods=60, freq="W", seed=2)
    forecaster = fit_forecaster(data.sell_through, freq="W-MON", horizon=4, nodes=data.nodes,
                                models=("lgbm", "ets", "snaive", "auto"),
                                calibration_windows=2, lgbm=FAST_LGBM)
    saved = mlflow.get_tracking_uri()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("t", artifact_location=(folder / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        info = log_forecast_model(forecaster)
    register_challenger(mlflow.MlflowClient(uri, uri), name=NAME, model_uri=info.model_uri,
                        run_id=run.info.run_id, tags={}, description="model_env test")
    local = download_artifacts(f"models:/{NAME}@{CHALLENGER}", tracking_uri=uri)
    yield uri, local, forecaster
    mlflow.set_tracking_uri(saved)


def _series(forecaster: Forecaster) -> pd.DataFrame:
    return forecaster.keys[["node_id", "sku"]].head(2).astype(str).reset_index(drop=True)


def _outside_env() -> dict[str, str]:
    """The environment of a process that cannot import the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(Path.home() / ".pyenv" / "bin"), env.get("PATH", "")])
    return env


def _dependency_closure(names: list[str]) -> set[str]:
    """The distributions `names` install (themselves and their non-extra dependencies)."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            wanted = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in wanted:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def test_model_logs_its_code_and_requirements_cover_its_imports(registered, tmp_path):
    _, local, forecaster = registered
    model = Path(local)
    assert {p.name for p in (model / "code").iterdir()} == {"features", "models", "training"}
    pins = (model / "requirements.txt").read_text().split()
    assert [p.split("==")[0] for p in pins] == list(REQUIREMENTS)
    assert not any(p.startswith("mlflow==") for p in pins), "mlflow-skinny, not the server"
    series = _series(forecaster)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, local, series.to_json(orient="records"),
         json.dumps(REQUEST)], cwd=tmp_path, env=_outside_env(), capture_output=True,
        text=True, check=False)
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["training"].startswith(str(model / "code")), found["training"]
    closure = _dependency_closure([p.split("==")[0] for p in pins])
    missing = {module: owners for module, owners in found["imported"].items()
               if module not in OPTIONAL
               and not any(canonicalize_name(d) in closure for d in owners)}
    assert not missing, f"the model imports {missing} (module: distributions), which its " \
        "requirements do not install: add them to training.tracking.pyfunc.REQUIREMENTS"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_mlflow_models_serve_builds_the_model_env_and_answers(registered, tmp_path):
    uri, _, forecaster = registered
    env = _outside_env()
    pyenv = shutil.which("pyenv", path=env["PATH"])
    root = Path(subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
                .stdout.strip() or "/nonexistent") if pyenv else None
    version = platform.python_version()
    require(root is not None and (root / "versions" / version).is_dir(),
            f"`mlflow models serve` builds the model's virtualenv with pyenv's Python "
            f"{version}: install pyenv and run `pyenv install {version}`")
    env.update(MLFLOW_TRACKING_URI=uri, MLFLOW_ENV_ROOT=str(tmp_path / "envs"))
    port = _free_port()
    log = tmp_path / "serve.log"
    started = time.monotonic()
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m",
             f"models:/{NAME}@{CHALLENGER}", "-p", str(port)],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() - started < 300:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(2)
        else:
            pytest.fail(f"no answer on /ping after 300 s:\n{log.read_text()[-3000:]}")
        series = _series(forecaster)
        answer = httpx.post(f"{base}/invocations", timeout=60, json={
            "dataframe_records": series.to_dict(orient="records"), "params": REQUEST})
        assert answer.status_code == 200, answer.text
        served = pd.DataFrame(answer.json()["predictions"])
        local = forecaster.predict(series, horizon=3, quantiles=[0.1, 0.9])
        assert served["model"].tolist() == local["model"].tolist()
        for column in ("mean", "q0.1", "q0.9"):
            assert served[column].tolist() == pytest.approx(local[column].tolist())
        assert "Creating a new environment" in log.read_text()
        print(f"model env built and served in {time.monotonic() - started:.0f} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(tmp_path / "envs", ignore_errors=True)  # 765 MB; pytest keeps tmp dirs
