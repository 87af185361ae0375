"""Shared test factories: tiny seeded histories in the data contract's shape."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.schema import DATE, ITEM, NODE, ON_HAND, PRICE, PROMO, UNITS

IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""The real public datasets, in ../shared/data beside the project (never copied into it)."""


def require(condition: object, reason: str) -> None:
    """Skip the test when `condition` is false, with `reason`; under `CI=true`, fail instead.

    A green CI must mean that the tests needing a real component (PostgreSQL, Chromium, the
    shared datasets) ran: CI installs and starts them, so their absence there is a failure.
    """
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required component is missing: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def make_history(n_nodes: int = 2, n_items: int = 3, weeks: int = 30, seed: int = 0,
                 start: str = "2024-01-01") -> pd.DataFrame:
    """Weekly sell-through with price, promo and on_hand for every node x item x week."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=weeks, freq="W-MON")
    idx = pd.MultiIndex.from_product(
        [dates, [f"N{i}" for i in range(n_nodes)], [f"S{j}" for j in range(n_items)]],
        names=[DATE, NODE, ITEM],
    )
    frame = idx.to_frame(index=False)
    n = len(frame)
    frame[UNITS] = rng.poisson(4.0, n).astype(float)
    frame[PRICE] = rng.choice([9.99, 8.49], n)
    frame[PROMO] = rng.binomial(1, 0.1, n).astype(float)
    frame[ON_HAND] = rng.integers(0, 20, n).astype(float)
    return frame


def make_nodes(n_nodes: int = 2) -> pd.DataFrame:
    """Nodes N0..N{n-1} under one region R."""
    rows = [{NODE: "R", "parent_id": None, "channel": "region", "lead_time_days": 0,
             "review_period_days": 7, "priority": 1}]
    rows += [{NODE: f"N{i}", "parent_id": "R", "channel": "dealer", "lead_time_days": 7,
              "review_period_days": 7, "priority": 1 + i % 2} for i in range(n_nodes)]
    return pd.DataFrame(rows)


def write_folder(root: Path, files: dict[str, str]) -> Path:
    """A data folder holding `files` (name -> text), created under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def restore_tracking_uri(saved: str | None) -> None:
    """Give MLflow back the tracking URI `saved` from MLFLOW_TRACKING_URI; None unsets it."""
    import mlflow

    # mlflow annotates `uri: str | Path`, but its body handles None (unsets the URI and the
    # environment variable) and its own `_use_tracking_uri` restores None the same way
    mlflow.set_tracking_uri(saved)  # type: ignore[arg-type]


@pytest.fixture
def history() -> pd.DataFrame:
    return make_history()


@pytest.fixture
def nodes() -> pd.DataFrame:
    return make_nodes()


@pytest.fixture
def lgbm_fits(monkeypatch: pytest.MonkeyPatch) -> list[pd.Timestamp]:
    """The cutoff of every LightGBM fit made while the test runs, in order."""
    from models.lgbm import LGBMForecaster, StackedRows

    fits: list[pd.Timestamp] = []
    real_fit = LGBMForecaster.fit

    def counting_fit(self: LGBMForecaster, rows: StackedRows, *, cutoff: pd.Timestamp,
                     **kw: Any) -> LGBMForecaster:
        fits.append(pd.Timestamp(cutoff))
        return real_fit(self, rows, cutoff=cutoff, **kw)

    monkeypatch.setattr(LGBMForecaster, "fit", counting_fit)
    return fits
