"""Rules about nodes: a hierarchy without unknown parents or cycles, and node ids that exist.

A node refused for any reason refuses its children, and every `sell_through` or `inventory`
row of it, each with a reason that names the refused node's row. Python loops here run over
distinct node ids or over the few nodes caught in a cycle, never over data rows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.cells import ParsedColumn
from features.report import TableLog
from features.schema import NODE, PARENT

__all__ = ["NodeStatus", "check_node_refs", "check_nodes"]

_MAX_SUGGESTIONS = 100  # distinct unknown ids that get a difflib suggestion
Parsed = dict[str, ParsedColumn]


@dataclass(frozen=True)
class NodeStatus:
    """What the dependent tables need to know about nodes: row and fate of each id."""

    file: str
    row: dict[str, int]
    accepted: dict[str, bool]


def check_nodes(log: TableLog, cols: Parsed) -> NodeStatus | None:
    """Check the hierarchy of `nodes` (unknown parents, cycles, refused parents).

    Returns:
        Row and fate of each node id, or None when the file has no `node_id` column.
    """
    if NODE not in cols:
        return None
    ids = cols[NODE].text.to_numpy(zero_copy_only=False).astype(object)
    first = cols[NODE].valid & ~pd.Series(ids).duplicated().to_numpy()
    pos_of = dict(zip(ids[first], np.flatnonzero(first), strict=True))
    parent_pos = np.full(len(ids), -1, dtype=np.int64)
    if PARENT in cols:
        parents = cols[PARENT].text.to_numpy(zero_copy_only=False).astype(object)
        has_parent = ~cols[PARENT].missing
        mapped = pd.Series(parents).map(pos_of)
        known = has_parent & mapped.notna().to_numpy()
        parent_pos[known] = mapped[known].astype(np.int64)
        unknown = has_parent & ~known
        if unknown.any():
            reasons = _unknown_id_reasons(list(parents[unknown]), list(pos_of), log.file,
                                          what="parent_id")
            log.add(unknown, column=PARENT, rule="unknown_parent", reason=reasons)
        _check_cycles(log, ids, parent_pos, first)
        rows = log.raw.row_numbers
        ok = ~log.refused
        while True:  # one pass per hierarchy level: refuse children of refused nodes
            linked = parent_pos >= 0
            bad = ok & linked & ~ok[np.where(linked, parent_pos, 0)]
            if not bad.any():
                break
            reasons = [
                f"parent '{p}' is refused ({log.file} row {rows[q]}), so this node is refused "
                "too; fix that row first"
                for p, q in zip(parents[bad], parent_pos[bad], strict=True)
            ]
            log.add(bad, column=PARENT, rule="refused_parent", reason=reasons)
            ok &= ~bad
    rows_of = {i: int(log.raw.row_numbers[p]) for i, p in pos_of.items()}
    accepted = {i: not bool(log.refused[p]) for i, p in pos_of.items()}
    return NodeStatus(file=log.file, row=rows_of, accepted=accepted)


def _check_cycles(
    log: TableLog, ids: npt.NDArray[np.object_], parent_pos: npt.NDArray[np.int64],
    first: npt.NDArray[np.bool_],
) -> None:
    # Peel off every node that reaches a root (vectorised, one pass per level); what is
    # left lies on a cycle or leads into one, and only those few are walked one by one.
    done = (parent_pos < 0) | ~first
    while True:
        step = ~done & done[np.where(parent_pos >= 0, parent_pos, 0)]
        if not step.any():
            break
        done |= step
    visited: set[int] = set()
    mask = np.zeros(len(ids), dtype=bool)
    reasons: dict[int, str] = {}
    for start in np.flatnonzero(~done):
        path: list[int] = []
        p = int(start)
        while p not in visited:
            visited.add(p)
            path.append(p)
            p = int(parent_pos[p])
        if p in path:
            cycle = path[path.index(p):]
            text = " -> ".join(str(ids[q]) for q in [*cycle, cycle[0]])
            for q in cycle:
                mask[q] = True
                reasons[q] = (f"node '{ids[q]}' is in a parent cycle {text}; give one of these "
                              "nodes an empty parent_id or a parent outside the cycle")
    if mask.any():
        log.add(mask, column=PARENT, rule="cycle",
                reason=[reasons[int(q)] for q in np.flatnonzero(mask)])


def _unknown_id_reasons(unknown: list[str], known: list[str], file: str, *, what: str) -> list[str]:
    """One reason per unknown id, naming the closest known id when there is one."""
    unpadded = {k.lstrip("0"): k for k in known}
    hints: dict[str, str] = {}
    for u in dict.fromkeys(unknown):
        if u.strip() in known:
            hint = f" (closest: '{u.strip()}', without the surrounding spaces)"
        elif u.lstrip("0") in unpadded:
            hint = (f" (closest: '{unpadded[u.lstrip('0')]}'; were leading zeros lost, "
                    "e.g. by a spreadsheet?)")
        else:
            close = (difflib.get_close_matches(u, known, n=1, cutoff=0.6)
                     if len(hints) < _MAX_SUGGESTIONS else [])
            hint = f" (closest: '{close[0]}')" if close else ""
        hints[u] = (f"{what} '{u}' is not a node_id in {file}{hint}; add the node to {file} "
                    "or fix the id")
    return [hints[u] for u in unknown]


def check_node_refs(
    log: TableLog, cols: Parsed, nodes: NodeStatus | None, trouble: str
) -> None:
    """Refuse rows whose `node_id` is unknown or refused in `nodes`.

    When `nodes` is None (missing or unusable file), every row is refused with `trouble`.
    """
    if NODE not in cols:
        return
    if nodes is None:
        log.add_table("nodes_unusable",
                      f"node_id cannot be checked because {trouble}; every row is refused",
                      column=NODE)
        return
    col = cols[NODE]
    enc = col.text.combine_chunks().dictionary_encode()
    distinct = enc.dictionary.to_pylist()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    status = np.zeros(len(distinct), dtype=np.int8)
    reasons = np.empty(len(distinct), dtype=object)
    unknown: list[int] = []
    for i, node in enumerate(distinct):  # per distinct id, not per row
        if node not in nodes.accepted:
            unknown.append(i)
        elif not nodes.accepted[node]:
            status[i] = 1
            reasons[i] = (f"node '{node}' is refused in {nodes.file} (row {nodes.row[node]}), so "
                          "its rows are refused too; fix that row first")
    if unknown:
        status[unknown] = 2
        reasons[unknown] = _unknown_id_reasons([distinct[i] for i in unknown],
                                               list(nodes.accepted), nodes.file, what="node_id")
    row_status = status[codes]
    valid = ~col.missing
    for code, rule in ((1, "refused_node"), (2, "unknown_node")):
        mask = valid & (row_status == code)
        if mask.any():
            log.add(mask, column=NODE, rule=rule, reason=reasons[codes[mask]])
