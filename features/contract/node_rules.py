"""Rules about nodes: a hierarchy without unknown parents or cycles, and node ids that exist.

A node refused for any reason refuses its children, and every `sell_through` or `inventory`
row of it. Those rows are refused only because of another row: their reason names the root
cause (the node row that breaks a rule itself: file, row, column) and they record it as their
root, so the report can count them under it. Python loops here run over distinct node ids or
over the few nodes caught in a cycle, never over data rows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract.cells import ParsedColumn
from features.contract.report import TableLog
from features.schema import NODE, PARENT

__all__ = ["NodeStatus", "check_node_refs", "check_nodes"]

_MAX_SUGGESTIONS = 100  # distinct unknown ids that get a difflib suggestion
Parsed = dict[str, ParsedColumn]


@dataclass(frozen=True)
class NodeStatus:
    """What the dependent tables need to know about nodes: row and fate of each id.

    Attributes:
        file: the nodes file.
        row: per node id, its row.
        accepted: per node id, whether its row was accepted.
        root_row: per refused node id, the row of the node refused for its own problem
            (itself, or the ancestor whose refusal refused it).
        cause: per refused node id, that root cause in words (node, file, row, column).
    """

    file: str
    row: dict[str, int]
    accepted: dict[str, bool]
    root_row: dict[str, int] = field(default_factory=dict)
    cause: dict[str, str] = field(default_factory=dict)


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
    root_pos = np.arange(len(ids), dtype=np.int64)  # refused node -> node refused on its own
    rows = log.raw.row_numbers
    own: dict[int, str] = {}
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
        ok = ~log.refused
        own = _own_causes(log, ids, np.flatnonzero(~ok))
        while True:  # one pass per hierarchy level: refuse children of refused nodes
            linked = parent_pos >= 0
            bad = ok & linked & ~ok[np.where(linked, parent_pos, 0)]
            if not bad.any():
                break
            root_pos[bad] = root_pos[parent_pos[bad]]
            reasons = [
                f"parent {own[r]}, so this node is refused too; fix that row first" if q == r
                else f"ancestor {own[r]}, so its descendant '{p}' and this node are refused too; "
                "fix that row first"
                for p, q, r in zip(parents[bad], parent_pos[bad], root_pos[bad], strict=True)
            ]
            log.add(bad, column=PARENT, rule="refused_parent", reason=reasons,
                    root_file=log.file, root_row=rows[root_pos[bad]])
            ok &= ~bad
    rows_of = {i: int(rows[p]) for i, p in pos_of.items()}
    accepted = {i: not bool(log.refused[p]) for i, p in pos_of.items()}
    refused = [i for i, ok_ in accepted.items() if not ok_]
    roots = {i: int(root_pos[pos_of[i]]) for i in refused}
    causes = own or _own_causes(log, ids, np.unique(list(roots.values())).astype(np.int64))
    return NodeStatus(
        file=log.file, row=rows_of, accepted=accepted,
        root_row={i: int(rows[r]) for i, r in roots.items()},
        cause={i: causes[r] for i, r in roots.items()},
    )


def _own_causes(
    log: TableLog, ids: npt.NDArray[np.object_], positions: npt.NDArray[np.int64]
) -> dict[int, str]:
    """Per refused node position: "'ID' is refused (FILE row R, column C)"."""
    if positions.size == 0:
        return {}
    problems = log.row_problems()
    problems = problems[problems["pos"].isin(positions)]
    columns = problems.groupby("pos")["column"].agg(lambda c: ", ".join(dict.fromkeys(c)))
    rows = log.raw.row_numbers
    out = {}
    for p in positions.tolist():
        where = f"{log.file} row {rows[p]}"
        if p in columns.index:
            where += f", column {columns[p]}"
        out[p] = f"'{ids[p]}' is refused ({where})"
    return out


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
    root_rows = np.full(len(distinct), -1, dtype=np.int64)
    unknown: list[int] = []
    for i, node in enumerate(distinct):  # per distinct id, not per row
        if node not in nodes.accepted:
            unknown.append(i)
        elif not nodes.accepted[node]:
            status[i] = 1
            root_rows[i] = nodes.root_row[node]
            reasons[i] = (
                f"node {nodes.cause[node]}, so its rows are refused too; fix that row first"
                if root_rows[i] == nodes.row[node] else
                f"node '{node}' is refused ({nodes.file} row {nodes.row[node]}) because its "
                f"ancestor {nodes.cause[node]}, so its rows are refused too; fix that row first"
            )
    if unknown:
        status[unknown] = 2
        reasons[unknown] = _unknown_id_reasons([distinct[i] for i in unknown],
                                               list(nodes.accepted), nodes.file, what="node_id")
    row_status = status[codes]
    valid = ~col.missing
    mask = valid & (row_status == 1)
    if mask.any():
        log.add(mask, column=NODE, rule="refused_node", reason=reasons[codes[mask]],
                root_file=nodes.file, root_row=root_rows[codes[mask]])
    mask = valid & (row_status == 2)
    if mask.any():
        log.add(mask, column=NODE, rule="unknown_node", reason=reasons[codes[mask]])
