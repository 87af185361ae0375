"""What validation found: problems per file and row, accepted tables, and row accounting.

Problems are collected as arrays while checking (one chunk per rule and column), so millions
of refused rows cost a few vectorised operations; `Problem` objects are only built on demand.

A problem is either a root cause (the row itself breaks a rule) or a dependent one (the row is
refused only because another row was, e.g. the sell-through of a refused node); a dependent
problem names its root row (`root_file`, `root_row`). The console report lists the root causes
and, under each, one line counting the rows refused because of it; `write_rejects` keeps every
refused row with its own reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from features.contract.cells import Issue, text_at
from features.contract.console import accounting_table, dependents_line
from features.contract.io import RawTable
from features.contract.rejects import REJECT_SCHEMA, rejects_table

__all__ = ["FileCount", "Problem", "TableLog", "ValidationReport"]

PROBLEM_COLUMNS = ["file", "row", "column", "value", "reason", "rule"]
ROOT_COLUMNS = ["root_file", "root_row"]


@dataclass(frozen=True)
class Problem:
    """One reason a file or a row was refused.

    Attributes:
        file: file name, e.g. `sell_through.csv`.
        row: row as the user sees it (CSV line number, header = 1; Parquet 1-based index),
            or None for a problem with the whole file.
        column: the column concerned, or None.
        value: the cell's text, or None.
        reason: what is wrong and what to do.
        rule: short rule id, e.g. `below_minimum`, used to count problems per rule.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str
    rule: str

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.file}: {self.reason}"
        where = f"{self.file} row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class FileCount:
    """Rows read from one file and what became of them (`accepted + refused == read`)."""

    file: str
    read: int
    accepted: int
    refused: int


class TableLog:
    """Problems found in one file, kept as arrays, and which rows they refuse."""

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw
        self.file = raw.file
        self.refused = np.zeros(raw.n_rows, dtype=bool)
        self.refuse_all = False
        self.table_problems: list[Problem] = []
        self._chunks: list[pd.DataFrame] = []

    def add(
        self,
        mask: npt.NDArray[np.bool_],
        *,
        column: str,
        rule: str,
        reason: str | Sequence[str] | npt.NDArray[np.object_],
        values: npt.NDArray[np.object_] | None = None,
        root_file: str | None = None,
        root_row: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Refuse the rows in `mask`; `reason` is a template (`{v}`, `{q}`) or one per row.

        Args:
            mask: True on the rows to refuse.
            column: the column concerned (several joined with ", ").
            rule: short rule id.
            reason: a template (`{v}`, `{q}`) or one reason per refused row.
            values: the cells shown, one per refused row (default: the cells of `column`).
            root_file: for rows refused only because another row was: that row's file.
            root_row: with `root_file`, that row's number, one per refused row.
        """
        pos = np.flatnonzero(mask)
        if pos.size == 0:
            return
        if values is None:
            values = text_at(self.raw.data.column(column), pos)
        reasons = _fill(reason, values) if isinstance(reason, str) else np.asarray(reason, object)
        self._chunks.append(pd.DataFrame({
            "pos": pos, "column": column, "value": values, "reason": reasons, "rule": rule,
            "root_file": root_file,
            "root_row": np.full(pos.size, -1, np.int64) if root_row is None else root_row,
        }))
        self.refused[pos] = True

    @property
    def n_row_problems(self) -> int:
        return sum(len(c) for c in self._chunks)

    def add_issue(self, issue: Issue, column: str) -> None:
        self.add(issue.mask, column=column, rule=issue.rule, reason=issue.reason)

    def add_table(self, rule: str, reason: str, *, column: str | None = None) -> None:
        """A problem with the whole file: every row of it is refused."""
        self.table_problems.append(Problem(self.file, None, column, None, reason, rule))
        self.refuse_all = True
        self.refused[:] = True

    def row_problems(self) -> pd.DataFrame:
        """Row problems by row: pos, row, column, value, reason, rule, root_file, root_row."""
        if not self._chunks:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS[2:]})
            frame.insert(0, "pos", pd.Series(dtype=np.int64))
            frame["root_file"] = pd.Series(dtype=object)
            frame["root_row"] = pd.Series(dtype=np.int64)
        else:
            frame = pd.concat(self._chunks, ignore_index=True)
            frame = frame.sort_values("pos", kind="stable", ignore_index=True)
        frame.insert(1, "row", self.raw.row_numbers[frame["pos"].to_numpy()])
        return frame


class ValidationReport:
    """The outcome of validating a data folder.

    Attributes:
        path: the folder validated.
        tables: ACCEPTED rows per table present (`sell_through`, `nodes`, and `inventory`,
            `central_stock` when given): date columns datetime64[ns], ids str (None when
            empty), numbers and flags float64 (NaN when empty), extra columns as read.
        freq: pandas frequency of `sell_through` (`W-MON`, `D`, `MS`, ...), declared or
            inferred; None when no date could be read.
        notes: what was inferred or skipped (frequency, blank lines).
        counts: rows read, accepted and refused per table.

    Example:
        >>> report = validate_folder(Path("data"))  # doctest: +SKIP
        >>> report.ok, report.counts["sell_through"].refused  # doctest: +SKIP
        (False, 3)
    """

    def __init__(
        self,
        *,
        path: Path,
        tables: dict[str, pd.DataFrame],
        freq: str | None,
        logs: dict[str, TableLog],
        file_problems: list[Problem],
        notes: list[str],
    ) -> None:
        self.path = path
        self.tables = tables
        self.freq = freq
        self.notes = notes
        self._logs = logs
        self._file_problems = file_problems
        self.counts: dict[str, FileCount] = {}
        for name, log in logs.items():
            read = log.raw.n_rows
            refused = int(log.refused.sum())
            accepted = len(tables[name])
            if accepted + refused != read:
                raise AssertionError(
                    f"{log.file}: accepted {accepted} + refused {refused} != read {read}"
                )
            self.counts[name] = FileCount(log.file, read, accepted, refused)

    @property
    def ok(self) -> bool:
        """True when no file and no row was refused."""
        return self.n_problems == 0

    @cached_property
    def problem_frame(self) -> pd.DataFrame:
        """Every problem as a frame: file, row, column, value, reason, rule, and for a row
        refused only because another row was, that row's root_file and root_row (else NA)."""
        parts = [pd.DataFrame([asdict(p) for p in self._file_problems], columns=PROBLEM_COLUMNS)]
        for log in self._logs.values():
            parts.append(pd.DataFrame([asdict(p) for p in log.table_problems],
                                      columns=PROBLEM_COLUMNS))
            rows = log.row_problems().drop(columns="pos")
            rows.insert(0, "file", log.file)
            parts.append(rows)
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object)
                                 for c in PROBLEM_COLUMNS + ROOT_COLUMNS})
        frame = pd.concat([p.astype({"row": "Int64"}) for p in parts], ignore_index=True)
        if "root_row" not in frame:
            frame["root_file"], frame["root_row"] = None, -1
        root_row = frame["root_row"].fillna(-1).astype("Int64")
        frame["root_row"] = root_row.mask(root_row < 0)
        frame["root_file"] = frame["root_file"].where(frame["root_row"].notna(), None)
        return frame

    @property
    def n_problems(self) -> int:
        return len(self._file_problems) + sum(
            len(log.table_problems) + log.n_row_problems for log in self._logs.values()
        )

    @cached_property
    def _dependent_only(self) -> npt.NDArray[np.bool_]:
        """Per problem: it belongs to a row refused only because another row was refused."""
        frame = self.problem_frame
        dependent = frame["root_row"].notna()
        if not dependent.any():
            return dependent.to_numpy()
        key = [frame["file"], frame["row"].fillna(-1)]
        return dependent.groupby(key).transform("all").to_numpy(dtype=bool)

    @property
    def n_root_problems(self) -> int:
        """Problems that are root causes: all but those of rows refused only because of them."""
        return int((~self._dependent_only).sum())

    @property
    def problems(self) -> list[Problem]:
        """Every problem, files first, then per file by row (see `first_problems` for big data)."""
        return self.first_problems(self.n_problems)

    def first_problems(self, n: int, *, roots_only: bool = False) -> list[Problem]:
        """The first `n` problems, in the order `problems` lists them.

        With `roots_only`, skip the problems of rows refused only because another row was,
        and list the root causes in order of reach: whole files (missing files and `nodes`,
        which the other tables refer to, first), then the rows that refused other rows, then
        the rest (each group in `problems` order).
        """
        frame = self.problem_frame
        if roots_only:
            frame = frame[~self._dependent_only]
            causes = self.dependents()
            causing = pd.MultiIndex.from_arrays(
                [causes["root_file"].astype(object), causes["root_row"].astype("Int64")])
            downstream = [log.file for name, log in self._logs.items() if name != "nodes"]
            reach = np.where(
                frame["row"].isna(), np.where(frame["file"].isin(downstream), 1, 0),
                np.where(pd.MultiIndex.from_arrays([frame["file"], frame["row"]]).isin(causing),
                         2, 3))
            frame = frame.iloc[np.argsort(reach, kind="stable")]
        return [
            Problem(f, None if pd.isna(r) else int(r), c, v, reason, rule)
            for f, r, c, v, reason, rule in frame[PROBLEM_COLUMNS].head(max(n, 0)).itertuples(
                index=False)
        ]

    @property
    def file_problems(self) -> list[Problem]:
        """Problems with a whole file (missing, unreadable, missing column): row is None."""
        return [*self._file_problems, *(p for log in self._logs.values()
                                        for p in log.table_problems)]

    @property
    def n_refused(self) -> int:
        return sum(c.refused for c in self.counts.values())

    def rule_counts(self) -> dict[str, int]:
        """Number of problems per rule, most frequent first."""
        return self.problem_frame["rule"].value_counts().to_dict()

    def write_rejects(self, path: Path | str) -> int:
        """Write every refused row once to a CSV; returns the number of rows written.

        Columns: file, row, columns and reasons (one entry per problem, joined with "; "),
        and record: the row's original cells as a JSON object.
        """
        parts = [_rejects_of(log) for log in self._logs.values()]
        parts = [p for p in parts if p.num_rows]
        table = pa.concat_tables(parts) if parts else REJECT_SCHEMA.empty_table()
        pa_csv.write_csv(table, str(path))
        return table.num_rows

    def dependents(self) -> pd.DataFrame:
        """Rows refused only because another row was, counted per root row and file.

        Returns:
            One row per (root_file, root_row, file): `rows` refused in `file` and the distinct
            `nodes` they belong to (for `nodes` itself: the nodes below the root).
        """
        frame = self.problem_frame[self._dependent_only]
        key = ["root_file", "root_row", "file"]
        if frame.empty:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in [*key, "rows", "nodes"]})
        return (frame.groupby(key, sort=False)
                .agg(rows=("row", "size"), nodes=("value", "nunique")).reset_index())

    def format(self, max_print: int = 200) -> str:
        """Human-readable report: root problems (at most `max_print`), each followed by one
        line counting the rows refused because of it; counts per rule; accounting."""
        lines = [f"validated {self.path}"]
        lines += [f"note: {n}" for n in self.notes]
        total = self.n_problems
        if total == 0:
            lines.append("no problems: every row was accepted")
        else:
            roots = self.n_root_problems
            n_dependent = total - roots
            head = f"{roots:,} problem(s); {self.n_refused:,} row(s) refused"
            if n_dependent:
                head += (f", {n_dependent:,} of them only because another row was refused "
                         "(counted under that row)")
            lines.append(head + ":")
            shown = self.first_problems(max_print, roots_only=True)
            deps = self.dependents()
            labels = {log.file: log.raw.name for log in self._logs.values()}
            summaries = {
                (str(f), int(r)): dependents_line(part, labels)
                for (f, r), part in deps.groupby(["root_file", "root_row"], sort=False)
            }
            for i, p in enumerate(shown):
                lines.append(f"  {p}")
                key = (p.file, p.row if p.row is not None else -1)
                last = i + 1 == len(shown) or (shown[i + 1].file, shown[i + 1].row) != key[:2]
                if last and key in summaries:
                    lines.append(f"    {summaries.pop(key)}")
            if roots > len(shown) or summaries:
                hidden = deps[[(str(f), int(r)) in summaries
                               for f, r in zip(deps["root_file"], deps["root_row"], strict=True)]]
                more = f"  ... and {roots - len(shown):,} more problems"
                if len(hidden):
                    more += (f", with {int(hidden['rows'].sum()):,} row(s) refused only because "
                             "of them")
                lines.append(more + " (write them all with --rejects FILE)")
            lines.append("problems per rule:")
            lines += [f"  {rule:<20} {n:>10,}" for rule, n in self.rule_counts().items()]
        lines.append(accounting_table(
            (c.file, c.read, c.accepted, c.refused) for c in self.counts.values()))
        return "\n".join(lines)


def _fill(template: str, values: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Vectorised template fill: `{v}` -> cell text, `{q}` -> quoted text or "empty cell"."""
    parts = re.split(r"(\{[vq]\})", template)
    if len(parts) == 1:
        return np.full(len(values), template, dtype=object)
    text = pd.Series(values, dtype=object).astype(str)
    quoted = ("'" + text + "'").where(text != "", "empty cell")
    out = pd.Series("", index=text.index, dtype=object)
    for part in parts:
        out = out + (text if part == "{v}" else quoted if part == "{q}" else part)
    return out.to_numpy(dtype=object)


def _rejects_of(log: TableLog) -> pa.Table:
    pos = np.flatnonzero(log.refused)
    if pos.size == 0:
        return REJECT_SCHEMA.empty_table()
    table_problems = None
    if log.table_problems:
        table_problems = ("; ".join(p.column or "" for p in log.table_problems),
                          "; ".join(p.reason for p in log.table_problems))
    return rejects_table(log.file, pos, log.row_problems(), row_numbers=log.raw.row_numbers[pos],
                         records=log.raw.data.take(pa.array(pos)), table_problems=table_problems)
