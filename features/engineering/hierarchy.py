"""Hierarchy aggregates: what the parent node, the sku across all nodes and the node across
all skus sold, aligned back to each series so windows can run over them like own sales.

Aggregates need every series of a group. On Dask, compute them once over the whole history
(they are small: groups x periods) and pass them to each partition.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from features.engineering.history import Panel
from features.schema import ITEM, NODE, PARENT

__all__ = ["group_labels", "group_totals", "hierarchy_totals"]

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


def group_labels(keys: pd.DataFrame, nodes: pd.DataFrame | None = None
                 ) -> dict[str, npt.NDArray[np.object_]]:
    """Group label of each series (rows of `keys`: `node_id`, `sku`) at every hierarchy level:
    `sku`, `node` and, when `nodes` has parents, `parent` (None where a node has none)."""
    node_ids = keys[NODE].astype(str).to_numpy(dtype=object)
    sku_ids = keys[ITEM].astype(str).to_numpy(dtype=object)
    out = {"sku": sku_ids, "node": node_ids}
    if nodes is not None and PARENT in nodes:
        parent_of = nodes.set_index(NODE)[PARENT].replace("", np.nan)
        parents = pd.Series(node_ids).map(parent_of)
        label = np.where(parents.isna(), None, parents.astype(str) + "\x1f" + sku_ids)
        out["parent"] = np.asarray(label, dtype=object)
    return out


def hierarchy_totals(panel: Panel, nodes: pd.DataFrame | None = None, *,
                     totals: Mapping[str, pd.Series] | None = None) -> dict[str, FloatArray]:
    """Group totals of units for each series: `parent` (same sku over the nodes sharing this
    node's parent), `sku` (same sku over all nodes) and `node` (all skus at this node).

    `totals`: precomputed totals per level, each a Series of units indexed by (group label
    of `group_labels`, date), e.g. summed over every partition of a Dask frame. The panel
    then only looks its series' groups up, so a partition of series gets the totals of
    the whole history; a (group, period) without a row is 0 units, as when summed here.
    """
    labels = group_labels(panel.keys, nodes)
    if totals is None:
        return {level: group_totals(panel.units, label) for level, label in labels.items()}
    return {level: _lookup(totals[level], label, panel) for level, label in labels.items()}


def _lookup(total: pd.Series, labels: npt.NDArray[np.object_], panel: Panel) -> FloatArray:
    """Each series' row of a (label, date) -> units Series on the panel's grid (as many
    periods as `panel.units` has)."""
    n_periods = panel.units.shape[1]
    out = np.full((len(labels), n_periods), np.nan)
    known = pd.notna(labels)
    if not known.any():
        return out
    codes, uniques = pd.factorize(pd.Series(labels[known]))
    wanted = pd.MultiIndex.from_product([uniques, panel.dates[:n_periods]])
    table = total.reindex(wanted).fillna(0.0).to_numpy(dtype=np.float64)
    out[known] = table.reshape(len(uniques), n_periods)[codes]
    return out
