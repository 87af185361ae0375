"""Promotion rule, settings from the environment, config round trip (no MLflow store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.config import FAST_LGBM, TrainConfig
from training.tracking.registry import decide
from training.tracking.runs import run_params
from training.tracking.settings import StoreSettings, git_commit, store_settings


def test_first_model_is_promoted():
    assert decide("1", 0.9).promote


@pytest.mark.parametrize(("score", "promote"),
                         [(0.80, True), (0.8999999, False), (0.90, False), (0.95, False)])
def test_only_a_strictly_better_challenger_is_promoted(score, promote):
    decision = decide("2", score, champion="1", champion_score=0.90)
    assert decision.promote is promote
    assert "v1" in decision.reason and f"{score:.4f}"[:5] in decision.reason


def test_force_promotes_and_says_so():
    decision = decide("2", 1.5, champion="1", champion_score=0.9, force=True, why="hotfix")
    assert decision.promote and decision.forced
    assert decision.tags()["promotion.forced"] == "true" and "hotfix" in decision.reason


def test_default_store_is_sqlite_in_the_project_with_artifacts_beside_it(tmp_path):
    store = store_settings({}, project_dir=tmp_path)
    assert store.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert store.artifact_root == (tmp_path.resolve() / "mlruns").as_uri()
    assert store.run_id is None


def test_tracking_uri_from_the_environment_wins():
    remote = store_settings({"MLFLOW_TRACKING_URI": "http://mlflow:5000",
                             "MLFLOW_RUN_ID": "abc"})
    assert remote == StoreSettings(tracking_uri="http://mlflow:5000", run_id="abc")
    explicit = store_settings({"MLFLOW_TRACKING_URI": "http://x"}, tracking_uri="sqlite:///a.db")
    assert explicit.tracking_uri == "sqlite:///a.db"


def test_git_commit_reads_head_without_git(tmp_path):
    (tmp_path / ".git" / "refs" / "heads").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert git_commit(tmp_path) is None
    (tmp_path / ".git" / "refs" / "heads" / "main").write_text("f00d\n")
    assert git_commit(tmp_path) == "f00d"
    assert git_commit(tmp_path / "nowhere") is None


def test_config_round_trips_through_json():
    cfg = TrainConfig(data=Path("d"), windows=2, models=("ma", "auto"), lgbm=FAST_LGBM)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert run_params(cfg, "W-MON")["step"] == "8"
    assert run_params(cfg, "W-MON")["primary_model"] == "auto"


def test_force_needs_no_comparable_score_but_a_plain_promotion_does():
    forced = decide("3", 0.7, champion="1", force=True)
    assert forced.promote and "not compared" in forced.reason
    with pytest.raises(ValueError, match="`champion_score`"):
        decide("3", 0.7, champion="1")


def test_the_default_store_is_in_the_project_folder() -> None:
    """mlflow.db and mlruns/ sit beside pyproject.toml (a module move once put them in
    training/, where the logged model's code copies broke mypy), and the run's git commit is
    read from the project's .git."""
    from training.tracking.settings import PROJECT_DIR, git_commit

    assert (PROJECT_DIR / "pyproject.toml").is_file()
    assert store_settings({}).tracking_uri == f"sqlite:///{PROJECT_DIR / 'mlflow.db'}"
    if (PROJECT_DIR / ".git").exists():
        assert git_commit() is not None
