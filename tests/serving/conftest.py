"""Service test fixtures: a generated data folder, a small trained champion in a temporary
MLflow registry, a database per test (SQLite file, and PostgreSQL when a server is
available), and clients with a key of every role.

The champion is trained on all but the last `NEW` weeks of the generated history, so tests
can post those weeks as new sell-through and compare with `Forecaster.update`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from features.synthetic import generate_channel_data, write_channel_data
from serving.app import create_app
from serving.db import Database, normalize_url
from serving.keys import ROLES, create_key
from serving.live import served_at
from serving.service import Service
from serving.settings import Settings
from tests.conftest import require, restore_tracking_uri
from tests.serving.pg_cluster import start_cluster
from training.engine.forecast import Forecaster, fit_forecaster
from training.engine.hierarchy import fit_levels
from training.tracking.pyfunc import log_forecast_model
from training.tracking.registry import CHAMPION, register_challenger

MODEL_NAME = "channelcast-demand"
NEW = 2  # weeks held out of training, posted as new sell-through
MODELS = ("lgbm", "ets", "snaive", "ma", "croston", "auto")
LEVELS_NAME = "channelcast-levels"  # the workspace's model with a hierarchy (issue 23)


@dataclass(frozen=True)
class Workspace:
    """A data folder and a registered champion trained on it (minus the last NEW weeks)."""

    data_dir: Path
    tracking_uri: str
    model_uri: str
    run_model_uri: str
    forecaster: Forecaster
    history: pd.DataFrame
    new_rows: pd.DataFrame
    nodes: pd.DataFrame
    inventory: pd.DataFrame
    central_stock: pd.DataFrame


def _champion(forecaster: Forecaster, tracking: str, experiment_id: str, name: str,
              description: str) -> str:
    """Log `forecaster` in a run of `experiment_id` and make it `name`'s champion; its run
    model URI."""
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = log_forecast_model(forecaster)
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    version = register_challenger(client, name=name, model_uri=info.model_uri,
                                  run_id=run.info.run_id, tags={}, description=description)
    client.set_registered_model_alias(name, CHAMPION, version.version)
    return str(info.model_uri)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("serving")
    data = generate_channel_data(nodes=4, skus=5, periods=60, freq="W", seed=3)
    write_channel_data(data, root / "data")
    history = data.sell_through
    dates = pd.to_datetime(history["date"])
    cut = dates.drop_duplicates().sort_values().iloc[-NEW - 1]
    forecaster = fit_forecaster(history[dates <= cut], freq="W-MON", horizon=4,
                                nodes=data.nodes, models=MODELS, calibration_windows=2)
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking)
    experiment = mlflow.create_experiment("serving", artifact_location=(root / "a").as_uri())
    run_model_uri = _champion(forecaster, tracking, experiment, MODEL_NAME, "test model")
    yield Workspace(data_dir=root / "data", tracking_uri=tracking,
                    model_uri=f"models:/{MODEL_NAME}@{CHAMPION}", run_model_uri=run_model_uri,
                    forecaster=forecaster, history=history,
                    new_rows=history[dates > cut].reset_index(drop=True), nodes=data.nodes,
                    inventory=data.inventory, central_stock=data.central_stock)
    restore_tracking_uri(saved)


@dataclass(frozen=True)
class LevelModel:
    """A champion trained with a hierarchy (`fit_levels`) on the workspace's training data."""

    model_uri: str
    forecaster: Forecaster


@pytest.fixture(scope="session")
def level_model(workspace: Workspace) -> Iterator[LevelModel]:
    """The workspace's data trained with a hierarchy (parents, channels, total x skus and
    `*`), registered as `LEVELS_NAME`'s champion in the workspace's registry."""
    history = workspace.history
    train = history[pd.to_datetime(history["date"]) < workspace.new_rows["date"].min()]
    forecaster = fit_levels(train, nodes=workspace.nodes, freq="W-MON", horizon=4,
                            models=MODELS, calibration_windows=2)
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(workspace.tracking_uri)
    experiment = mlflow.get_experiment_by_name("serving")
    assert experiment is not None
    _champion(forecaster, workspace.tracking_uri, experiment.experiment_id, LEVELS_NAME,
              "levels")
    yield LevelModel(model_uri=f"models:/{LEVELS_NAME}@{CHAMPION}", forecaster=forecaster)
    restore_tracking_uri(saved)


# --- databases -------------------------------------------------------------------------------

PG_WHY: dict[str, str] = {}


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    """A PostgreSQL server URL (CI's, or a throwaway one), or None with the reason kept."""
    url = os.environ.get("CHANNELCAST_TEST_POSTGRES_URL")
    if url:
        yield normalize_url(url)
        return
    cluster, why = start_cluster()
    if cluster is None:
        PG_WHY["why"] = why
        yield None
        return
    yield cluster.url
    cluster.stop()


def fresh_postgres(admin_url: str) -> tuple[str, str]:
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_postgres(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    require(admin is not None,
            "PostgreSQL persistence tests skipped: CHANNELCAST_TEST_POSTGRES_URL is "
            f"unset and {PG_WHY.get('why', 'no server could be started')} "
            "(.ci/run installs and starts one).")
    url, name = fresh_postgres(admin)
    yield url
    drop_postgres(admin, name)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated service database (SQLite, and PostgreSQL when available)."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


# --- the service ---------------------------------------------------------------------------

@dataclass
class Api:
    """A started service, its test client and one key per role."""

    client: TestClient
    service: Service
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"X-API-Key": self.keys[role]}

    def get(self, path: str, *, role: str | None = "admin", **kw: Any) -> Any:
        return self.client.get(path, headers={**self.headers(role), **kw.pop("headers", {})},
                               **kw)

    def post(self, path: str, *, role: str | None = "admin", **kw: Any) -> Any:
        return self.client.post(path, headers={**self.headers(role), **kw.pop("headers", {})},
                                **kw)

    def put(self, path: str, *, role: str | None = "admin", **kw: Any) -> Any:
        return self.client.put(path, headers={**self.headers(role), **kw.pop("headers", {})},
                               **kw)

    def delete(self, path: str, *, role: str | None = "admin", **kw: Any) -> Any:
        return self.client.delete(path, headers={**self.headers(role),
                                                 **kw.pop("headers", {})}, **kw)


def make_settings(workspace: Workspace, database_url: str, **changes: Any) -> Settings:
    base = Settings(database_url=database_url, model_uri=workspace.model_uri,
                    tracking_uri=workspace.tracking_uri, data_dir=workspace.data_dir,
                    key_cache_seconds=0, sync_seconds=0)
    return replace(base, **changes)


def add_keys(service: Service) -> dict[str, str]:
    return {role: create_key(service.db, name=f"{role}-{uuid.uuid4().hex[:6]}", role=role)[1]
            for role in ROLES}


@pytest.fixture
def settings(workspace: Workspace, database_url: str) -> Settings:
    return make_settings(workspace, database_url)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    service = Service(settings)
    with TestClient(create_app(service=service), raise_server_exceptions=False) as client:
        yield Api(client=client, service=service, keys=add_keys(service))


@pytest.fixture
def level_api(settings: Settings, level_model: LevelModel) -> Iterator[Api]:
    """`api` serving the model with a hierarchy (`level_model`)."""
    service = Service(replace(settings, model_uri=level_model.model_uri))
    with TestClient(create_app(service=service), raise_server_exceptions=False) as client:
        yield Api(client=client, service=service, keys=add_keys(service))


# --- a live server (uvicorn in a thread) ---------------------------------------------------

@dataclass
class Live:
    url: str
    service: Service
    keys: dict[str, str]


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    """The service on a loopback port, served by uvicorn in a thread."""
    service = Service(settings)
    with served_at(service) as url:
        yield Live(url=url, service=service, keys=add_keys(service))
