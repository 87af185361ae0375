"""The rejects file: every refused row once, with its columns, reasons and original cells.

Built with Arrow kernels, column by column, so writing millions of refused rows stays cheap.
"""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["REJECT_SCHEMA", "json_records", "rejects_table"]

REJECT_SCHEMA = pa.schema([("file", pa.string()), ("row", pa.int64()), ("columns", pa.string()),
                           ("reasons", pa.string()), ("record", pa.string())])


def rejects_table(file: str, pos: npt.NDArray[np.intp], problems: pd.DataFrame, *,
                  row_numbers: npt.NDArray[np.int64], records: pa.Table,
                  table_problems: tuple[str, str] | None = None) -> pa.Table:
    """One row per refused row of `file`: its columns and reasons joined, its cells as JSON.

    Args:
        file: the file name the rows came from.
        pos: positions of the refused rows in the file, ascending.
        problems: the row problems (`pos`, `column`, `reason`), sorted by `pos`.
        row_numbers: each refused row's number as the user sees it.
        records: the refused rows' original cells.
        table_problems: (columns, reasons) of problems of the whole table, put first.
    """
    at = problems["pos"].to_numpy()
    columns = np.full(pos.size, None, dtype=object)
    reasons = np.full(pos.size, None, dtype=object)
    # Most refused rows have one problem: place those directly; join only the others.
    shared = np.zeros(at.size, dtype=bool)
    if at.size > 1:
        same = at[1:] == at[:-1]
        shared[1:] |= same
        shared[:-1] |= same
    idx = np.searchsorted(pos, at[~shared])
    columns[idx] = problems["column"].to_numpy(dtype=object)[~shared]
    reasons[idx] = problems["reason"].to_numpy(dtype=object)[~shared]
    if shared.any():
        joined = problems[shared].groupby("pos", sort=True).agg(
            columns=("column", "; ".join), reasons=("reason", "; ".join))
        idx = np.searchsorted(pos, joined.index.to_numpy())
        columns[idx] = joined["columns"].to_numpy(dtype=object)
        reasons[idx] = joined["reasons"].to_numpy(dtype=object)
    if table_problems:
        columns = _prefix(table_problems[0], columns)
        reasons = _prefix(table_problems[1], reasons)
    assert not pd.isna(reasons).any(), f"{file}: a refused row has no reason"
    return pa.table({
        "file": pa.array(np.full(pos.size, file, dtype=object), pa.string()),
        "row": pa.array(row_numbers, pa.int64()),
        "columns": pa.array(columns, pa.string()),
        "reasons": pa.array(reasons, pa.string()),
        "record": json_records(records),
    }, schema=REJECT_SCHEMA)


def _prefix(head: str, tails: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    series = pd.Series(tails, dtype=object)
    return (head + "; " + series).where(series.notna(), head).to_numpy(dtype=object)


def json_records(table: pa.Table) -> pa.ChunkedArray:
    """One JSON object per row with the row's raw cells as text (null when absent).

    Built column-wise with Arrow string kernels; cells are escaped only in columns that
    hold a quote, a backslash or a control character.
    """
    parts: list[object] = []
    for i, name in enumerate(table.column_names):
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
        elif not pa.types.is_string(col.type):
            col = col.cast(pa.string())
        if _needs_escape(col):
            for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
                             ("\t", "\\t")):
                col = pc.replace_substring(col, old, new)
            col = pc.replace_substring_regex(col, r"[\x00-\x1f]", " ")
        quoted = pc.binary_join_element_wise('"', col, '"', "")
        parts += [("{" if i == 0 else ",") + json.dumps(name) + ":",
                  pc.fill_null(quoted, "null")]
    if not parts:
        return pa.chunked_array([pa.array(["{}"] * table.num_rows, pa.string())])
    parts.append("}")
    joined = pc.binary_join_element_wise(*parts, "")
    return joined if isinstance(joined, pa.ChunkedArray) else pa.chunked_array([joined])


def _needs_escape(col: pa.ChunkedArray) -> bool:
    return bool(
        pc.any(pc.match_substring(col, '"')).as_py()
        or pc.any(pc.match_substring(col, "\\")).as_py()
        or pc.all(pc.utf8_is_printable(col)).as_py() not in (True, None)
    )
