"""What one allocation call asks for: an sku's stock to split and the request's overrides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["AllocationRequest"]


@dataclass(frozen=True)
class AllocationRequest:
    """One sku's stock to split, with per-node overrides of the inventory table's limits.

    Attributes:
        sku: the item.
        available: central units to split (>= 0).
        pack_size: units per pack; every line is a multiple of it (>= 1).
        min_qty, max_qty: node_id -> units; override inventory's `min_qty` / `max_qty`.
        exclude: nodes that get nothing (and whose minimums are waived).
    """

    sku: str
    available: float
    pack_size: int = 1
    min_qty: Mapping[str, float] = field(default_factory=dict)
    max_qty: Mapping[str, float] = field(default_factory=dict)
    exclude: Sequence[str] = ()

    def check(self) -> None:
        """Raise ValueError naming the field if the pack size or the stock cannot hold."""
        if not float(self.pack_size).is_integer() or self.pack_size < 1:
            raise ValueError(f"`pack_size` of sku {self.sku} must be a whole number >= 1; got "
                             f"{self.pack_size}. Use 1 for single units.")
        if not np.isfinite(self.available) or self.available < 0:
            raise ValueError(f"`available` of sku {self.sku} must be a number >= 0; got "
                             f"{self.available}.")
