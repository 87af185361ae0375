"""Map the public benchmark datasets (../shared/data) to the data contract.

Each loader returns contract tables plus a record of every change it made to the raw data,
so nothing is altered silently: clipped returns, dropped not-observed cells, filled gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import (
    CHANNEL,
    DATE,
    ITEM,
    LEAD_TIME,
    NODE,
    PARENT,
    PRIORITY,
    REVIEW_PERIOD,
    UNITS,
)

__all__ = ["DATASETS", "ContractData", "load_carparts", "load_walmart"]


@dataclass(frozen=True)
class ContractData:
    """Contract tables mapped from a public dataset.

    Attributes:
        sell_through: one row per (date, node_id, sku).
        nodes: the node hierarchy.
        freq: the period grid ("W-FRI", "MS").
        changes: what the mapping changed, by name (e.g. `clipped_negative_rows`).
    """

    sell_through: pd.DataFrame
    nodes: pd.DataFrame
    freq: str
    changes: dict[str, int] = field(default_factory=dict)

    def write(self, out: Path) -> list[Path]:
        """Write `sell_through.parquet` and `nodes.csv` into `out` (created if missing)."""
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "sell_through.parquet", out / "nodes.csv"]
        self.sell_through.to_parquet(paths[0], index=False)
        self.nodes.to_csv(paths[1], index=False)
        return paths


def _require(path: Path, name: str) -> Path:
    target = path / name
    if not target.exists():
        raise FileNotFoundError(f"{target} not found; point `path` at the dataset folder "
                                f"(e.g. ../shared/data/...) that holds {name}.")
    return target


def load_walmart(path: Path) -> ContractData:
    """Walmart store x department weekly sales: store = node (under its store Type),
    department = sku, dollars taken as units. Negative weeks (returns) are clipped to 0 and
    counted; weeks missing inside a series stay missing (the panel fills them with 0)."""
    train = pd.read_csv(_require(path, "train.csv.zip"), parse_dates=["Date"])
    stores = pd.read_csv(_require(path, "stores.csv"))
    negative = train["Weekly_Sales"] < 0
    sell = pd.DataFrame({
        DATE: train["Date"],
        NODE: "S" + train["Store"].astype(str),
        ITEM: "D" + train["Dept"].astype(str),
        UNITS: train["Weekly_Sales"].clip(lower=0).astype(np.float64),
        "holiday": train["IsHoliday"].astype(bool).astype(np.int8),
    })
    types = sorted(stores["Type"].unique())
    nodes = pd.concat([
        pd.DataFrame({NODE: [f"type_{t}" for t in types], PARENT: None, CHANNEL: "region",
                      LEAD_TIME: 0, REVIEW_PERIOD: 7, PRIORITY: 1}),
        pd.DataFrame({NODE: "S" + stores["Store"].astype(str),
                      PARENT: "type_" + stores["Type"].astype(str), CHANNEL: "retail",
                      LEAD_TIME: 7, REVIEW_PERIOD: 7, PRIORITY: 1}),
    ], ignore_index=True)
    return ContractData(sell, nodes, "W-FRI", {"clipped_negative_rows": int(negative.sum()),
                                               "rows": len(train)})


def load_carparts(path: Path) -> ContractData:
    """Car parts monthly sales: one node `ALL`, part = sku. NA cells mean the series was no
    longer observed; they are dropped and counted, not read as zero sales."""
    raw = pd.read_csv(_require(path, "carparts_long.csv.gz"), dtype={"part_id": str},
                      parse_dates=["month"])
    observed = raw["units"].notna()
    sell = pd.DataFrame({
        DATE: raw.loc[observed, "month"],
        NODE: "ALL",
        ITEM: raw.loc[observed, "part_id"],
        UNITS: raw.loc[observed, "units"].astype(np.float64),
    }).reset_index(drop=True)
    nodes = pd.DataFrame({NODE: ["ALL"], PARENT: [None], CHANNEL: ["direct"], LEAD_TIME: [30],
                          REVIEW_PERIOD: [30], PRIORITY: [1]})
    return ContractData(sell, nodes, "MS", {"dropped_not_observed_cells": int((~observed).sum()),
                                            "rows": len(raw)})


DATASETS = {"walmart": load_walmart, "carparts": load_carparts}
