"""The data contract applied to rows posted as JSON (inventory, central stock, sell-through).

The rows go through the same validator as a data folder
(`features.contract.validation.validate_raw`), against the service's node table, so the ERP
gets the rules and the reasons `channelcast validate` gives for files; each problem names its
field path, e.g. `body.inventory[3].on_hand`, instead of a file row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.io import RawFolder, RawTable
from features.contract.validation import validate_raw
from features.schema import NODE, TABLES
from serving.schemas import ErrorItemJson

__all__ = ["JsonRow", "JsonScalar", "RowProblem", "check_rows"]

JsonScalar = str | int | float | bool | None
JsonRow = dict[str, JsonScalar]
"""One posted row as JSON (`model_dump(mode="json")` of a request row): field -> value."""


@dataclass(frozen=True)
class RowProblem:
    """One refused cell or row: where (`loc`), why (`msg`), which rule, the value sent."""

    loc: tuple[str | int, ...]
    msg: str
    type: str
    value: str | None = None

    @property
    def unknown_node(self) -> bool:
        return self.type == "unknown_node"

    def as_dict(self) -> ErrorItemJson:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type, "value": self.value}


def _column(values: list[JsonScalar], kind: str) -> pa.Array:
    if kind in ("float", "int", "flag"):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _raw(name: str, rows: list[JsonRow]) -> RawTable:
    spec = TABLES[name]
    kinds = {c.name: c.kind for c in spec.columns}
    names = list(dict.fromkeys(k for row in rows for k in row if row.get(k) is not None))
    names += [c for c in spec.required_columns if c not in names]
    data = pa.table({c: _column([r.get(c) for r in rows], kinds.get(c, "str")) for c in names})
    return RawTable(name=name, path=Path(name), data=data,
                    row_numbers=np.arange(len(rows), dtype=np.int64))


def _nodes_raw(nodes: pd.DataFrame) -> RawTable:
    text = {c: pa.array(["" if pd.isna(v) else _text(v) for v in nodes[c]], pa.string())
            for c in nodes.columns}
    return RawTable(name="nodes", path=Path("nodes"), data=pa.table(text),
                    row_numbers=np.arange(2, len(nodes) + 2, dtype=np.int64))


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_rows(rows: dict[str, list[JsonRow]], *, nodes: pd.DataFrame,
               freq: str | None = None, fields: dict[str, str] | None = None
               ) -> tuple[dict[str, pd.DataFrame], list[RowProblem]]:
    """Validate tables of JSON rows (`{"inventory": [...], ...}`) against `nodes`.

    Args:
        rows: contract table name -> its rows.
        nodes: the node table the rows' node ids must be in.
        freq: the period grid of `sell_through` dates (inferred when None).
        fields: table name -> the body field that held it (default: the table name).

    Returns:
        The accepted rows per table (typed like a validated folder) and every problem, with
        `loc` = ("body", field, row index, column).
    """
    fields = fields or {}
    folder = RawFolder(path=Path("body"))
    folder.tables["nodes"] = _nodes_raw(nodes)
    for name, table_rows in rows.items():
        folder.tables[name] = _raw(name, table_rows)
    report = validate_raw(folder, freq=freq)
    problems = []
    for p in report.problem_frame.itertuples(index=False):
        if p.file not in rows:
            continue
        loc: tuple[str | int, ...] = ("body", fields.get(p.file, p.file))
        if not pd.isna(p.row):
            loc += (int(p.row),)
        if isinstance(p.column, str) and p.column:
            loc += (p.column if "," not in p.column else p.column.replace(", ", "+"),)
        value = None if pd.isna(p.value) or p.value is None else str(p.value)
        problems.append(RowProblem(loc=loc, msg=str(p.reason), type=str(p.rule), value=value))
    accepted = {name: report.tables[name] for name in rows}
    return accepted, problems


def nodes_of_model(node_ids: list[str]) -> pd.DataFrame:
    """A minimal node table (for validation only) when the service knows no other."""
    return pd.DataFrame({NODE: node_ids, "parent_id": None, "channel": "unknown",
                         "lead_time_days": 0, "review_period_days": 7, "priority": 1})
