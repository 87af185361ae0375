"""Where runs and models are stored: read from the environment at the entry points only.

Offline by default: a SQLite tracking store `mlflow.db` in the project folder, artifacts
in `mlruns/` beside it. `MLFLOW_TRACKING_URI` points everything at a tracking server (or
another store) instead; `mlflow run` also hands its run over in `MLFLOW_RUN_ID`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXPERIMENT", "MODEL_NAME", "PROJECT_DIR", "StoreSettings", "git_commit",
           "store_settings"]

PROJECT_DIR = Path(__file__).resolve().parents[2]  # training/tracking/settings.py -> the project
EXPERIMENT = "channelcast"
MODEL_NAME = "channelcast-demand"


@dataclass(frozen=True)
class StoreSettings:
    """Tracking and registry location.

    Attributes:
        tracking_uri: MLflow tracking (and registry) URI.
        artifact_root: folder under which a new experiment keeps its artifacts (in
            `<artifact_root>/<experiment>`; None = the server's choice); set for SQLite
            stores, so that artifacts sit beside the database.
        experiment: experiment of runs this project starts itself.
        model_name: registered model name.
        run_id: a run started by someone else (`mlflow run`) to log into, if any.
    """

    tracking_uri: str
    artifact_root: str | None = None
    experiment: str = EXPERIMENT
    model_name: str = MODEL_NAME
    run_id: str | None = None

    @classmethod
    def local(cls, folder: Path, *, run_id: str | None = None) -> StoreSettings:
        """A SQLite store `folder/mlflow.db` with artifacts in `folder/mlruns`."""
        folder = Path(folder).resolve()
        return cls(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
                   artifact_root=(folder / "mlruns").as_uri(), run_id=run_id)


def store_settings(environ: Mapping[str, str], *, project_dir: Path = PROJECT_DIR,
                   tracking_uri: str | None = None) -> StoreSettings:
    """Settings from `environ` (pass `os.environ`); an explicit `tracking_uri` wins."""
    run_id = environ.get("MLFLOW_RUN_ID") or None
    uri = tracking_uri or environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return StoreSettings.local(project_dir, run_id=run_id)
    local = _sqlite_folder(uri)
    if local is not None:
        return StoreSettings(tracking_uri=uri, artifact_root=(local / "mlruns").as_uri(),
                             run_id=run_id)
    return StoreSettings(tracking_uri=uri, run_id=run_id)


def _sqlite_folder(uri: str) -> Path | None:
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.endswith(":memory:"):
        return None
    return Path(uri[len(prefix):]).resolve().parent


def git_commit(project_dir: Path = PROJECT_DIR) -> str | None:
    """The checked-out commit, read from `.git` files (no git process); None outside git."""
    git = project_dir / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        loose = git / ref
        if loose.exists():
            return loose.read_text().strip() or None
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        return None
    return None
