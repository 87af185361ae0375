"""The channel tree crossed with items: every aggregate series and its sparse summing matrix.

Node dimension of a bottom node: the node itself (level `node`), every node up its
`parent_id` chain (level `parent`, also for a chain node that has a parent itself), its
`channel` (level `channel`, node_id = the channel name) and `TOTAL` (level `total`).
Sku dimension: the sku itself, its group (from an optional items table `sku, group`) and
`*` (all skus). Every pair that covers at least one bottom series is a series, so
(`node`, node, `*`) is a node's total over its skus and (`total`, `TOTAL`, `*`) the company.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from features.schema import CHANNEL, ITEM, NODE, PARENT

__all__ = ["ALL_SKUS", "GROUP", "LEVEL", "LEVELS", "TOTAL", "Hierarchy", "aggregate",
           "build_hierarchy"]

LEVELS = ("node", "parent", "channel", "total")
ALL_SKUS = "*"
TOTAL = "TOTAL"
LEVEL = "level"
GROUP = "group"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Hierarchy:
    """Every series of the channel tree x items and how it sums from the bottom series.

    Attributes:
        keys: `level, node_id, sku` per series; the first `n_bottom` rows are the bottom
            series (level `node`, real node and sku) in the order they were given.
        summing: S, (n_all, n_bottom) 0/1 matrix: series i = S[i] @ bottom.
        n_bottom: number of bottom series.
    """

    keys: pd.DataFrame
    summing: sparse.csr_matrix
    n_bottom: int

    @property
    def n_all(self) -> int:
        """Number of series at all levels."""
        return len(self.keys)

    def rows(self, keys: pd.DataFrame) -> IntArray:
        """Row of each (`level`, `node_id`, `sku`) of `keys`; KeyError naming unknown ones."""
        missing = [c for c in (LEVEL, NODE, ITEM) if c not in keys]
        if missing:
            raise KeyError(f"`keys` lacks columns {missing}; give `level, node_id, sku`.")
        index = pd.MultiIndex.from_frame(self.keys[[LEVEL, NODE, ITEM]].astype(str))
        wanted = pd.MultiIndex.from_frame(keys[[LEVEL, NODE, ITEM]].astype(str))
        out = index.get_indexer(wanted)
        if (out < 0).any():
            bad = keys.loc[out < 0, [LEVEL, NODE, ITEM]].drop_duplicates().head(5)
            raise KeyError(f"{int((out < 0).sum())} series are not in the hierarchy, e.g. "
                           f"{bad.to_records(index=False).tolist()}; levels are {LEVELS}, "
                           f"an aggregate's sku is a sku, a group or {ALL_SKUS!r}.")
        return np.asarray(out, dtype=np.int64)

    def level_codes(self) -> IntArray:
        """Index in LEVELS of each series' level."""
        codes = {lv: i for i, lv in enumerate(LEVELS)}
        return np.asarray(self.keys[LEVEL].map(codes).to_numpy(dtype=np.int64))

    def level_rows(self, level: str) -> IntArray:
        """Rows of the series at `level` (one of LEVELS)."""
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}; got {level!r}.")
        return np.flatnonzero(self.keys[LEVEL].to_numpy() == level).astype(np.int64)


def aggregate(values: FloatArray, hierarchy: Hierarchy) -> FloatArray:
    """Every series' values (n_all x T) from the bottom series' (n_bottom x T)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != hierarchy.n_bottom:
        raise ValueError(f"`values` has {values.shape[0]} rows; the hierarchy has "
                         f"{hierarchy.n_bottom} bottom series.")
    return np.asarray(hierarchy.summing @ values)


def _chains(nodes: pd.DataFrame, bottom_nodes: list[str]) -> pd.DataFrame:
    """(bottom node, level, node_id) for every node-dimension aggregate of each bottom node."""
    for col in (NODE, PARENT, CHANNEL):
        if col not in nodes:
            raise ValueError(f"nodes table lacks column `{col}`; nodes.csv needs "
                             f"`{NODE}, {PARENT}, {CHANNEL}`.")
    table = nodes.drop_duplicates(NODE).set_index(nodes[NODE].drop_duplicates().astype(str))
    parent = table[PARENT].where(table[PARENT].notna() & (table[PARENT].astype(str) != ""))
    parent_of = {k: str(v) for k, v in parent.dropna().items()}
    unknown = sorted(set(bottom_nodes) - set(table.index))
    if unknown:
        raise ValueError(f"{len(unknown)} nodes with sales are not in the nodes table, e.g. "
                         f"{unknown[:3]}; add them to nodes.csv with their `{CHANNEL}`.")
    parents = set(parent_of.values())
    rows: list[tuple[str, str, str]] = []
    for node in bottom_nodes:
        channel = table.at[node, CHANNEL]
        if pd.isna(channel) or str(channel) == "":
            raise ValueError(f"node {node!r} has no `{CHANNEL}` in the nodes table; "
                             "every node with sales needs one.")
        rows += [(node, "node", node), (node, "channel", str(channel)), (node, "total", TOTAL)]
        if node in parents:
            rows.append((node, "parent", node))
        seen, up = {node}, parent_of.get(node)
        while up is not None:
            if up in seen:
                raise ValueError(f"the `{PARENT}` chain of node {node!r} loops at {up!r}; "
                                 "fix nodes.csv so that every chain ends at a root.")
            seen.add(up)
            rows.append((node, "parent", up))
            up = parent_of.get(up)
    return pd.DataFrame(rows, columns=["_node", LEVEL, NODE])


def _sku_keys(skus: list[str], items: pd.DataFrame | None) -> pd.DataFrame:
    """(bottom sku, aggregate sku) for every sku-dimension aggregate of each bottom sku."""
    pairs = [(s, s) for s in skus] + [(s, ALL_SKUS) for s in skus]
    if items is not None:
        pairs += _group_pairs(skus, items)
    return pd.DataFrame(pairs, columns=["_sku", ITEM])


def _group_pairs(skus: list[str], items: pd.DataFrame) -> list[tuple[str, str]]:
    """(sku, group) pairs of an items table, checked: one group per sku, no name clash."""
    missing = [c for c in (ITEM, GROUP) if c not in items]
    if missing:
        raise ValueError(f"items table lacks columns {missing}; items.csv needs `{ITEM}, "
                         f"{GROUP}` (one row per sku).")
    sku = items[ITEM].astype(str)
    empty = items[GROUP].isna() | (items[GROUP].astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise ValueError(f"items table row {row + 2} (sku {sku.iloc[row]!r}): column `{GROUP}` "
                         "is empty; give every sku a group or leave the sku out.")
    group = items[GROUP].astype(str)
    twice = sku[sku.duplicated(keep=False)]
    clash = (group.groupby(sku).nunique() > 1).loc[lambda s: s].index.tolist()
    if clash:
        rows = (np.flatnonzero(sku.isin(clash).to_numpy()) + 2).tolist()[:4]
        raise ValueError(f"items table gives sku {clash[0]!r} more than one `{GROUP}` "
                         f"(rows {rows}; {len(set(twice))} duplicated skus); keep one row per sku.")
    named = sorted(set(group) & (set(skus) | {ALL_SKUS}))
    if named:
        raise ValueError(f"items table: group {named[0]!r} is also a sku id (or '*'); rename "
                         "the group so that an aggregate's `sku` is unambiguous.")
    group_of = dict(zip(sku, group, strict=True))
    return [(s, group_of[s]) for s in skus if s in group_of]


def build_hierarchy(nodes: pd.DataFrame, bottom: pd.DataFrame,
                    items: pd.DataFrame | None = None) -> Hierarchy:
    """Every series of the node tree (`nodes`: parent chain, channel) crossed with the skus of
    `bottom` (`node_id, sku` per bottom series, unique) and their `items` groups."""
    for col in (NODE, ITEM):
        if col not in bottom:
            raise ValueError(f"`bottom` lacks column `{col}`; give one `{NODE}, {ITEM}` row "
                             "per bottom series.")
    base = bottom[[NODE, ITEM]].astype(str).reset_index(drop=True)
    dupes = base.duplicated()
    if dupes.any():
        raise ValueError(f"`bottom` lists {int(dupes.sum())} series twice, e.g. "
                         f"{tuple(base[dupes].iloc[0])}; give each (node_id, sku) once.")
    base["_b"] = np.arange(len(base))
    chains = _chains(nodes, base[NODE].unique().tolist())
    sku_keys = _sku_keys(base[ITEM].unique().tolist(), items)
    pairs = (base.rename(columns={NODE: "_node", ITEM: "_sku"})
             .merge(chains, on="_node").merge(sku_keys, on="_sku"))
    is_bottom = (pairs[LEVEL] == "node") & (pairs[ITEM] == pairs["_sku"])
    agg = pairs.loc[~is_bottom, [LEVEL, NODE, ITEM]].drop_duplicates()
    agg = agg.assign(_rank=agg[LEVEL].map({lv: i for i, lv in enumerate(LEVELS)}))
    agg = agg.sort_values(["_rank", NODE, ITEM], kind="stable").drop(columns="_rank")
    keys = pd.concat([base[[NODE, ITEM]].assign(**{LEVEL: "node"})[[LEVEL, NODE, ITEM]], agg],
                     ignore_index=True)
    index = pd.MultiIndex.from_frame(keys)
    row = index.get_indexer(pd.MultiIndex.from_frame(pairs[[LEVEL, NODE, ITEM]]))
    summing = sparse.csr_matrix((np.ones(len(pairs)), (row, pairs["_b"].to_numpy())),
                                shape=(len(keys), len(base)))
    return Hierarchy(keys=keys, summing=summing, n_bottom=len(base))
