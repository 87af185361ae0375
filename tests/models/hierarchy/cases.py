"""Small hierarchies shared by the reconciliation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from models.hierarchy import Hierarchy


def two_level() -> Hierarchy:
    """Bottoms A, B and their total T = A + B."""
    keys = pd.DataFrame({"level": ["node", "node", "total"], "node_id": ["A", "B", "TOTAL"],
                         "sku": ["x", "x", "x"]})
    summing = sparse.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    return Hierarchy(keys=keys, summing=summing, n_bottom=2)
