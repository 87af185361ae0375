"""Validate a data folder against the data contract, row by row, without losing a row.

Every input row ends up either accepted (in `ValidationReport.tables`, with proper dtypes)
or refused with at least one reason naming the file, the row as the user sees it, the column
and the fix. The rules come from `features.schema.TABLES` (kinds, nullability, minimums),
plus the rules across rows and tables: unique keys, the date grid of `sell_through`, node ids
known to `nodes`, a hierarchy without unknown parents or cycles, `min_qty <= max_qty`.
A row that refers to a refused node is refused too, and says so (rules on nodes live in
`features.contract.node_rules`, cell parsing in `features.contract.cells`, the report in
`features.contract.report`).

All checks are vectorised; Python loops only run over distinct values (dates, node ids) or
over nodes caught in a cycle, never over the rows of `sell_through`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.cells import ParsedColumn, parse_column, text_at
from features.contract.errors import DataContractError
from features.contract.io import RawFolder, read_folder
from features.contract.node_rules import check_node_refs, check_nodes
from features.contract.report import Problem, TableLog, ValidationReport
from features.periods import DAY_NAMES, freq_code, parse_freq
from features.schema import (
    COLUMN_ALIASES,
    DATE,
    GROUP,
    ITEM,
    MAX_QTY,
    MIN_QTY,
    TABLES,
    TableSpec,
)

__all__ = ["load_validated", "refused_note", "validate_folder",
           "validate_raw"]

_KEY_FIX = {
    "sell_through": "keep one row per date, node_id and sku (add partial reports up into one row)",
    "nodes": "give each node exactly one row",
    "inventory": "keep one snapshot row per node_id and sku",
    "central_stock": "keep one row per sku",
    "items": "keep one row per sku (a sku belongs to one group)",
}
Parsed = dict[str, ParsedColumn]
_ALL_SKUS = "*"  # an aggregate's sku for all skus (models.hierarchy.ALL_SKUS)


def validate_folder(
    path: Path | str, *, freq: str | None = None, date_format: str | None = None
) -> ValidationReport:
    """Read and validate every contract file in a folder.

    Args:
        path: folder with `sell_through` and `nodes` (and optionally `inventory`,
            `central_stock`), each as `.csv` or `.parquet`.
        freq: frequency of `sell_through` (`W`, `D`, `M`, `W-MON`, ...); inferred when None.
        date_format: strptime format of date cells; ISO `YYYY-MM-DD` when None.

    Returns:
        The report: accepted tables, problems, row accounting, frequency.

    Raises:
        FileNotFoundError: `path` is not a folder.
        ValueError: `freq` is not a supported frequency.
    """
    parse_freq(freq)  # refuse a bad argument before reading gigabytes
    return validate_raw(read_folder(path), freq=freq, date_format=date_format)


def load_validated(
    path: Path | str,
    *,
    freq: str | None = None,
    date_format: str | None = None,
    accept_partial: bool = False,
    rejects: Path | str | None = None,
) -> ValidationReport:
    """Like `validate_folder`, but raise when anything was refused (for callers that need
    clean tables), unless `accept_partial`: then the tables hold the accepted rows only.

    Args:
        path, freq, date_format: as `validate_folder`.
        accept_partial: use the accepted rows when some rows are refused (problems with whole
            files, e.g. a missing file or column, still raise).
        rejects: with `accept_partial`, write every refused row (with its reasons) to this CSV
            when there are any (see `refused_note` for the line to print).

    Raises:
        DataContractError: listing the first problems and the number of refused rows.
    """
    report = validate_folder(path, freq=freq, date_format=date_format)
    if report.ok:
        return report
    if accept_partial and not report.file_problems:
        if rejects is not None:
            Path(rejects).parent.mkdir(parents=True, exist_ok=True)
            report.write_rejects(rejects)
        return report
    lines = [str(p) for p in report.first_problems(20, roots_only=True)]
    more = report.n_root_problems - len(lines)
    dependent = report.n_problems - report.n_root_problems
    tail = f"\n... and {more} more problems" if more > 0 else ""
    if dependent:
        tail += (f"\n... and {dependent} row(s) refused only because a row above was refused "
                 "(a node, its parent); fixing those rows accepts them")
    fix = ("fix the files first (--accept-partial only leaves out refused rows)"
           if report.file_problems else "fix them, or pass --accept-partial to run on the "
           "accepted rows (MLproject: -P accept_partial=true)")
    raise DataContractError(
        f"{report.path}: {report.n_problems} problem(s), {report.n_refused} row(s) refused; "
        f"{fix}; run `channelcast validate` with --rejects FILE for all of them:\n"
        + "\n".join(lines) + tail
    )


def refused_note(report: ValidationReport, rejects: Path | str | None) -> str | None:
    """The line to print after `load_validated(..., accept_partial=True)`: how many rows were
    refused and left out, and where they were written; None when every row was accepted."""
    if report.n_refused == 0:
        return None
    where = (f"each with its reason in {rejects}" if rejects is not None
             else "see them with `channelcast validate --rejects FILE`")
    return (f"--accept-partial: {report.n_refused:,} refused row(s) left out of "
            f"{report.path} ({where}); running on the accepted rows")


def validate_raw(
    folder: RawFolder, *, freq: str | None = None, date_format: str | None = None
) -> ValidationReport:
    """Validate tables already read by `features.contract.io.read_folder`."""
    declared = parse_freq(freq)
    file_problems = [
        Problem(e.file, None, None, None, e.message, e.rule) for e in folder.errors.values()
    ]
    logs: dict[str, TableLog] = {}
    parsed: dict[str, Parsed] = {}
    notes: list[str] = []
    for name, raw in folder.tables.items():
        logs[name] = TableLog(raw)
        parsed[name] = _check_cells(logs[name], TABLES[name], date_format)
        _check_duplicates(logs[name], TABLES[name], parsed[name])
        if raw.n_rows == 0 and TABLES[name].required:
            logs[name].add_table("no_rows", "the file has a header but no data rows; "
                                 f"{name} needs at least one row")
        if raw.blank_lines:
            notes.append(f"{raw.file}: skipped {raw.blank_lines} blank line(s)")
        notes += _optional_column_notes(raw.file, TABLES[name], raw.columns)

    nodes, nodes_trouble = None, "the nodes file is missing or unreadable (see above)"
    if "nodes" in logs:
        nodes = check_nodes(logs["nodes"], parsed["nodes"])
        if logs["nodes"].refuse_all:
            nodes, nodes_trouble = None, f"{logs['nodes'].file} is refused as a whole (see above)"

    freq_code = None
    if "sell_through" in logs:
        log, cols = logs["sell_through"], parsed["sell_through"]
        if DATE in cols:
            freq_code, note = _check_grid(log, cols[DATE], declared)
            notes.append(note)
        check_node_refs(log, cols, nodes, nodes_trouble)
    if "inventory" in logs:
        check_node_refs(logs["inventory"], parsed["inventory"], nodes, nodes_trouble)
        _check_min_max(logs["inventory"], parsed["inventory"])
    if "items" in logs and "sell_through" in parsed and ITEM in parsed["sell_through"]:
        _check_groups(logs["items"], parsed["items"], parsed["sell_through"][ITEM])

    tables = {name: _accepted(logs[name], parsed[name]) for name in logs}
    return ValidationReport(path=folder.path, tables=tables, freq=freq_code, logs=logs,
                            file_problems=file_problems, notes=notes)


# --- one table: columns and cells ---------------------------------------------------------


def _check_cells(log: TableLog, spec: TableSpec, date_format: str | None) -> Parsed:
    columns = log.raw.columns
    for name in spec.required_columns:
        if name not in columns:
            alias = _alias_of(name, spec, columns)
            fix = (f"; column '{alias}' looks like it: rename it to `{name}`" if alias
                   else _closest_column(name, columns))
            log.add_table("missing_column", f"missing required column '{name}'{fix}",
                          column=name)
    out: Parsed = {}
    for col in spec.columns:
        if col.name in columns:
            out[col.name] = parse_column(log.raw.data.column(col.name), col,
                                         date_format=date_format)
            for issue in out[col.name].issues:
                log.add_issue(issue, col.name)
    return out


def _normal(column: str) -> str:
    return "_".join(column.strip().lower().replace("-", " ").replace(".", " ").split())


def _alias_of(name: str, spec: TableSpec, columns: list[str]) -> str | None:
    """The file's column that looks like contract column `name` (`COLUMN_ALIASES`), if any."""
    contract = {c.name for c in spec.columns}
    names = {name, *COLUMN_ALIASES.get(name, ())}
    for column in columns:
        if column not in contract and _normal(column) in names:
            return column
    return None


def _optional_column_notes(file: str, spec: TableSpec, columns: list[str]) -> list[str]:
    """Notes on columns that look like a missing optional contract column (kept as extras)."""
    notes = []
    for col in spec.columns:
        if not col.required and col.name not in columns:
            alias = _alias_of(col.name, spec, columns)
            if alias:
                notes.append(f"{file}: column '{alias}' looks like the optional column "
                             f"`{col.name}` and is kept as an extra column; rename it to "
                             f"`{col.name}` to use it as such")
    return notes


def _closest_column(name: str, columns: list[str]) -> str:
    lower = {c.lower(): c for c in columns}
    close = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    if close:
        return f" (closest existing column: '{lower[close[0]]}')"
    return f" (columns found: {', '.join(columns) or 'none'})"


def _codes(col: ParsedColumn) -> npt.NDArray[np.int64]:
    """Integer codes of a key column: equal codes <=> equal values."""
    if col.spec.kind == "str":
        enc = col.text.combine_chunks().dictionary_encode()
        return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if col.spec.kind == "date":
        return col.values.view(np.int64)
    return col.values.view(np.int64)


def _check_duplicates(log: TableLog, spec: TableSpec, cols: Parsed) -> None:
    key = list(spec.key)
    if any(k not in cols for k in key):
        return
    valid = np.logical_and.reduce([cols[k].valid for k in key])
    pos = np.flatnonzero(valid)
    frame = pd.DataFrame({k: _codes(cols[k])[pos] for k in key})
    repeat = frame.duplicated(keep="first").to_numpy()
    if not repeat.any():
        return
    involved = frame.duplicated(keep=False).to_numpy()
    sub = frame[involved].assign(pos=pos[involved])
    first = sub.groupby(key, sort=False)["pos"].transform("min").to_numpy()
    rep_pos = pos[repeat]
    first_rows = log.raw.row_numbers[first[repeat[involved]]]
    texts = [pd.Series(text_at(log.raw.data.column(k), rep_pos), dtype=object) for k in key]
    if len(key) == 1:
        label, shown = key[0], "'" + texts[0] + "'"
        value = texts[0]
    else:
        label = ", ".join(key)
        value = texts[0].str.cat(texts[1:], sep=", ")
        shown = f"({label}) = (" + value + ")"
    first_text = pd.Series(first_rows).astype(str)
    reasons = shown + " repeats row " + first_text + "; " + _KEY_FIX[spec.name]
    mask = np.zeros(log.raw.n_rows, dtype=bool)
    mask[rep_pos] = True  # rep_pos is sorted, so reasons line up with flatnonzero(mask)
    log.add(mask, column=label, rule="duplicate_key", reason=reasons.to_numpy(dtype=object),
            values=value.to_numpy(dtype=object))


# --- sell_through dates: frequency and grid ------------------------------------------------


def _check_grid(
    log: TableLog, col: ParsedColumn, declared: tuple[str | None, int | None]
) -> tuple[str | None, str]:
    valid = col.valid
    if not valid.any():
        return None, "frequency unknown: no valid date in " + log.file
    days = col.values.astype("datetime64[D]").view(np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    kind, anchor = declared
    distinct = np.sort(pd.unique(days[valid]))
    facts: list[str] = []
    if kind is None:
        gap = float(np.median(np.diff(distinct))) if distinct.size > 1 else 7.0
        kind = "D" if gap <= 3 else "W" if gap <= 20 else "M"
        facts.append(f"median gap between its {distinct.size} distinct dates is {gap:g} days"
                     if distinct.size > 1 else "it has a single date, so weekly is assumed")
    if kind == "W" and anchor is None:
        anchor = int(np.bincount(weekday[valid], minlength=7).argmax())
        facts.append(f"most common weekday {DAY_NAMES[anchor]}")
    code = freq_code(kind, anchor)
    if declared[0] is None:
        note = (f"frequency of {log.file}: {code}, inferred ({'; '.join(facts)}); "
                "declare it with --freq if that is wrong")
    else:
        note = f"frequency of {log.file}: {code}, declared" + (
            f" ({'; '.join(facts)})" if facts else "")
    if kind == "D":
        return code, note
    dates = col.values.astype("datetime64[D]")
    if kind == "W":
        off = valid & (weekday != anchor)
    else:
        off = valid & (dates.astype("datetime64[M]").astype("datetime64[D]") != dates)
    if not off.any():
        return code, note
    uniq, inverse = np.unique(dates[off], return_inverse=True)
    reasons = np.array([_off_grid_reason(d, kind, anchor) for d in uniq], dtype=object)
    log.add(off, column=DATE, rule="off_grid_date", reason=reasons[inverse])
    return code, note


def _off_grid_reason(day: np.datetime64, kind: str, anchor: int | None) -> str:
    ts = pd.Timestamp(day)
    if kind == "M":
        return (f"{ts:%Y-%m-%d} is not the first day of a month but this file is monthly; "
                f"use the period start date ({ts:%Y-%m-01})")
    start = ts - pd.Timedelta(days=(ts.weekday() - (anchor or 0)) % 7)
    return (f"{ts:%Y-%m-%d} is a {DAY_NAMES[ts.weekday()]} but this weekly file is anchored "
            f"on {DAY_NAMES[anchor or 0]}; use the period start date ({start:%Y-%m-%d})")


# --- inventory limits, accepted frames ----------------------------------------------------


def _check_min_max(log: TableLog, cols: Parsed) -> None:
    if MIN_QTY not in cols or MAX_QTY not in cols:
        return
    lo, hi = cols[MIN_QTY].values, cols[MAX_QTY].values
    bad = np.zeros(len(lo), dtype=bool)
    np.greater(lo, hi, where=np.isfinite(lo) & np.isfinite(hi), out=bad)
    if not bad.any():
        return
    pos = np.flatnonzero(bad)
    hi_text = pd.Series(text_at(log.raw.data.column(MAX_QTY), pos), dtype=object)
    lo_text = pd.Series(text_at(log.raw.data.column(MIN_QTY), pos), dtype=object)
    hint = TABLES["inventory"].column(MAX_QTY).hint
    reasons = "max_qty " + hi_text + " is below min_qty " + lo_text + "; " + hint
    log.add(bad, column=MAX_QTY, rule="min_above_max", reason=reasons.to_numpy(dtype=object),
            values=hi_text.to_numpy(dtype=object))


def _check_groups(log: TableLog, cols: Parsed, skus: ParsedColumn) -> None:
    """A group named like a sku (or `*`, all skus) would make an aggregate ambiguous."""
    if GROUP not in cols:
        return
    group = pd.Series(cols[GROUP].text.to_pandas(), dtype=object)
    taken = {*pd.Series(skus.text.to_pandas()).dropna().astype(str), _ALL_SKUS}
    bad = (group.isin(taken) & ~pd.Series(cols[GROUP].missing)).to_numpy()
    if not bad.any():
        return
    values = group[bad].astype(str)
    reasons = ("group " + values + " is also a sku of sell_through (or '*', all skus); "
               "rename the group so that an aggregate's sku is unambiguous")
    log.add(bad, column=GROUP, rule="group_is_sku", reason=reasons.to_numpy(dtype=object),
            values=values.to_numpy(dtype=object))


def _accepted(log: TableLog, cols: Parsed) -> pd.DataFrame:
    keep = ~log.refused
    keep_arrow = pa.array(keep)
    data: dict[str, object] = {}
    for name in log.raw.columns:
        col = cols.get(name)
        if col is None:
            data[name] = pc.filter(log.raw.data.column(name), keep_arrow).to_pandas()
        elif col.spec.kind == "str":
            text = pc.if_else(pa.array(col.missing), pa.scalar(None, pa.string()), col.text)
            data[name] = pc.filter(text, keep_arrow).to_pandas()
        else:
            data[name] = col.values[keep]
    return pd.DataFrame(data)
