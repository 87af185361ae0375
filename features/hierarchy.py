"""Hierarchy aggregates: what the parent node, the sku across all nodes and the node across
all skus sold, aligned back to each series so windows can run over them like own sales.

Aggregates need every series of a group. On Dask, compute them once over the whole history
(they are small: groups x periods) and pass them to each partition.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from features.history import Panel
from features.schema import ITEM, NODE, PARENT

__all__ = ["group_totals", "hierarchy_totals"]

FloatArray = npt.NDArray[np.float64]


def group_totals(values: FloatArray, groups: npt.ArrayLike) -> FloatArray:
    """Sum `values` (series x periods, NaN = nothing sold) over series sharing a group label,
    and return each series' group total. Series whose label is missing get NaN rows."""
    labels = pd.Series(groups)
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    known = codes >= 0
    n_series = values.shape[0]
    out = np.full(values.shape, np.nan)
    if not known.any():
        return out
    member = sparse.csr_matrix(
        (np.ones(int(known.sum())), (codes[known], np.flatnonzero(known))),
        shape=(len(uniques), n_series),
    )
    totals = member @ np.nan_to_num(values, nan=0.0)
    out[known] = totals[codes[known]]
    return out


def hierarchy_totals(panel: Panel, nodes: pd.DataFrame | None = None) -> dict[str, FloatArray]:
    """Group totals of units for each series: `parent` (same sku over the nodes sharing this
    node's parent), `sku` (same sku over all nodes) and `node` (all skus at this node)."""
    node_ids = panel.keys[NODE].to_numpy()
    sku_ids = panel.keys[ITEM].to_numpy()
    out = {
        "sku": group_totals(panel.units, sku_ids),
        "node": group_totals(panel.units, node_ids),
    }
    if nodes is not None and PARENT in nodes:
        parent_of = nodes.set_index(NODE)[PARENT].replace("", np.nan)
        parents = pd.Series(node_ids).map(parent_of)
        label = np.where(parents.isna(), None, parents.astype(str) + "\x1f" + sku_ids)
        out["parent"] = group_totals(panel.units, label)
    return out
