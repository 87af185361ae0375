"""The data of a run: a validated data folder (or a partitioned store read whole)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.config import TrainConfig
from features.contract.partitioned import is_store, open_store
from features.contract.validation import load_validated, refused_note
from features.schema import NODE

__all__ = ["Loaded", "load_data", "rejects_file"]


@dataclass
class Loaded:
    """Validated history, nodes and the period grid of a data folder; with
    `accept_partial`, how many rows were refused and the line saying where they went;
    `items` (`sku, group`) when the folder has an items table."""

    history: pd.DataFrame
    nodes: pd.DataFrame
    freq: str
    refused: int = 0
    note: str | None = None
    items: pd.DataFrame | None = None


def rejects_file(data: Path | str, rejects: Path | str | None = None) -> Path:
    """Where refused rows of the data folder `data` are written: `rejects`, else
    `data/rejects.csv`."""
    return Path(rejects) if rejects is not None else Path(data) / "rejects.csv"


def load_data(cfg: TrainConfig, *, rejects: Path | None = None) -> Loaded:
    """Load and validate `cfg.data` (a data folder, or a partitioned store read whole);
    raises DataContractError or FileNotFoundError. With `cfg.accept_partial`, refused rows
    are left out and written to `rejects` (default `rejects_file(cfg.data)`)."""
    if is_store(cfg.data):
        store = open_store(cfg.data)
        nodes = store.nodes()
        return Loaded(store.load_history(),
                      nodes if nodes is not None else pd.DataFrame(columns=[NODE]), store.freq)
    path = rejects_file(cfg.data, rejects)
    report = load_validated(cfg.data, freq=cfg.freq, accept_partial=cfg.accept_partial,
                            rejects=path)
    return Loaded(report.tables["sell_through"], report.tables["nodes"], str(report.freq),
                  refused=report.n_refused, note=refused_note(report, path),
                  items=report.tables.get("items"))
