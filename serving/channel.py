"""The channel tables the decisions need: nodes, inventory, central stock.

They come from the data folder (`channelcast serve --data DIR`, validated by the data
contract) or, for nodes, from the model itself; the latest inventory snapshot the ERP put
(`PUT /v1/inventory`, kept in the database) replaces the folder's inventory, and its central
stock, when given, replaces the folder's central stock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract.validation import load_validated
from features.schema import AS_OF, AVAILABLE, ITEM, NODE, PACK_SIZE
from serving.contract import JsonRow

__all__ = ["ChannelTables", "frame_of_rows", "load_folder"]

_NUMERIC = ("on_hand", "in_transit", "min_qty", "max_qty", AVAILABLE, PACK_SIZE)


@dataclass(frozen=True)
class ChannelTables:
    """Nodes, inventory and central stock in force, and where they came from."""

    nodes: pd.DataFrame | None
    inventory: pd.DataFrame | None
    central_stock: pd.DataFrame | None
    source: str
    snapshot_id: int = 0
    snapshot_at: datetime | None = None

    def with_snapshot(self, *, snapshot_id: int, at: datetime | None,
                      inventory: list[JsonRow],
                      central_stock: list[JsonRow] | None) -> ChannelTables:
        """These tables with a snapshot's inventory (and central stock, when it has one)."""
        central = (self.central_stock if central_stock is None
                   else frame_of_rows(central_stock, [ITEM, AVAILABLE, PACK_SIZE]))
        inv = frame_of_rows(inventory, [NODE, ITEM, "on_hand", "in_transit", AS_OF])
        return ChannelTables(nodes=self.nodes, inventory=inv, central_stock=central,
                             source=self.source, snapshot_id=snapshot_id, snapshot_at=at)

    def central(self, sku: str) -> tuple[float | None, int | None]:
        """(available, pack_size) on record for `sku`; None where unknown."""
        table = self.central_stock
        if table is None or table.empty:
            return None, None
        row = table[table[ITEM].astype(str) == sku]
        if row.empty:
            return None, None
        pack = row[PACK_SIZE].iloc[0] if PACK_SIZE in row else np.nan
        return float(row[AVAILABLE].iloc[0]), None if pd.isna(pack) else int(pack)


def frame_of_rows(rows: Sequence[Mapping[str, object]], columns: list[str]) -> pd.DataFrame:
    """Rows (JSON objects) as a frame typed like the validator's accepted tables."""
    frame = pd.DataFrame(rows)
    for col in columns:
        if col not in frame:
            frame[col] = np.nan if col in _NUMERIC else None
    for col in frame.columns:
        if col in _NUMERIC:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
        elif col == AS_OF:
            frame[col] = pd.to_datetime(frame[col])
        elif col in (NODE, ITEM):
            frame[col] = frame[col].astype(str)
    return frame


def load_folder(path: Path | None, *, model_nodes: pd.DataFrame | None) -> ChannelTables:
    """The folder's tables (strictly validated), or the model's nodes without a folder.

    Raises:
        DataContractError: the folder breaks the data contract (names file, row, column).
        FileNotFoundError: the folder does not exist.
    """
    if path is None:
        return ChannelTables(nodes=model_nodes, inventory=None, central_stock=None,
                             source="model (no data folder)")
    tables = load_validated(path).tables
    return ChannelTables(nodes=tables["nodes"], inventory=tables.get("inventory"),
                         central_stock=tables.get("central_stock"), source=str(path))
