"""Parse the cells of one column by its contract kind, vectorised with Arrow compute.

Each parser returns the parsed values plus masks of the cells it could not accept, so the
caller can refuse those rows and say why. No Python loop runs per row: dates are parsed once
per distinct text, numbers by one Arrow cast (with a regex fallback only when the cast fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.date_formats import date_format_hint
from features.schema import ColumnSpec

__all__ = ["ISO_DATE", "Issue", "ParsedColumn", "parse_column", "text_at"]

ISO_DATE = "%Y-%m-%d"
BoolArray = npt.NDArray[np.bool_]

# Cells that mean "no value" in numeric, date and flag columns. Ids never use this list: a
# node may well be called "NA".
_NA_TOKENS = pa.array(["", "nan", "na", "n/a", "#n/a", "null", "none", "-"])
_INF_TOKENS = pa.array(["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"])
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_NUMBER_FIX = "write plain digits with a dot for decimals (no thousands separators or units)"


@dataclass(frozen=True)
class Issue:
    """Cells of a column refused by one rule.

    Attributes:
        mask: True on the refused rows.
        rule: short rule id, e.g. `below_minimum`.
        reason: message template; `{v}` becomes the cell's text, `{q}` the quoted text (or
            "empty cell").
    """

    mask: BoolArray
    rule: str
    reason: str


@dataclass
class ParsedColumn:
    """One contract column after parsing.

    Attributes:
        spec: the column's contract.
        values: float64 for numbers and flags, datetime64[ns] for dates, text (Arrow) for ids.
        missing: True where the cell is empty (or an NA token for non-id columns).
        issues: refused cells, by rule.
    """

    spec: ColumnSpec
    values: npt.NDArray[np.float64] | npt.NDArray[np.datetime64] | pa.ChunkedArray
    missing: BoolArray
    issues: list[Issue] = field(default_factory=list)

    @property
    def text(self) -> pa.ChunkedArray:
        """The cells of an id column (kind `str`), as Arrow text."""
        if not isinstance(self.values, pa.ChunkedArray):
            raise TypeError(f"column `{self.spec.name}` is not an id column")
        return self.values

    @property
    def valid(self) -> BoolArray:
        """Rows whose cell parsed to a usable (non-missing, accepted) value."""
        ok = ~self.missing
        for issue in self.issues:
            ok &= ~issue.mask
        return ok


def parse_column(
    column: pa.ChunkedArray, spec: ColumnSpec, *, date_format: str | None = None
) -> ParsedColumn:
    """Parse one column according to `spec.kind`, flagging every cell that breaks the contract.

    Args:
        column: the raw cells (text for CSV, the file's own type for Parquet).
        spec: the column's contract (kind, nullable, min_value, hint).
        date_format: strptime format of date cells; ISO `YYYY-MM-DD` when None.

    Returns:
        The parsed column; `issues` holds one entry per rule that refused cells.
    """
    if spec.kind == "str":
        out = _parse_id(column, spec)
    elif spec.kind == "date":
        out = _parse_date(column, spec, date_format)
    else:
        out = _parse_number(column, spec)
    if not spec.nullable and out.missing.any():
        out.issues.insert(0, Issue(out.missing, "empty_value", _empty_reason(spec)))
    return out


def text_at(column: pa.ChunkedArray, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """The cells at `positions` as display text (what the user typed, for CSV)."""
    taken = column.take(pa.array(positions, type=pa.int64()))
    if pa.types.is_dictionary(taken.type):
        taken = taken.cast(taken.type.value_type)
    if not (pa.types.is_string(taken.type) or pa.types.is_large_string(taken.type)):
        taken = taken.cast(pa.string())
    return taken.fill_null("").to_numpy(zero_copy_only=False).astype(object)


def _empty_reason(spec: ColumnSpec) -> str:
    if spec.kind == "str":
        return f"missing value ({{q}}); {spec.hint or 'a value is required'}"
    need = {
        "date": "enter the date as YYYY-MM-DD",
        "flag": "enter 0 or 1",
        "float": "enter a number",
        "int": "enter a whole number",
    }[spec.kind]
    if spec.name == "units":
        need += " (0 when nothing was sold; an empty cell is not a zero)"
    return f"missing value ({{q}}); {need}"


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    return column.fill_null("")


def _to_bool(array: pa.ChunkedArray | pa.Array) -> BoolArray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _na_mask(trimmed: pa.ChunkedArray) -> BoolArray:
    return _to_bool(pc.is_in(pc.utf8_lower(trimmed), value_set=_NA_TOKENS))


def _parse_id(column: pa.ChunkedArray, spec: ColumnSpec) -> ParsedColumn:
    text = _as_text(column)
    missing = _to_bool(pc.equal(pc.utf8_trim_whitespace(text), ""))
    return ParsedColumn(spec, text, missing)


def _parse_date(column: pa.ChunkedArray, spec: ColumnSpec, date_format: str | None) -> ParsedColumn:
    typ = column.type
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        if pa.types.is_timestamp(typ) and typ.tz is not None:
            column = column.cast(pa.timestamp(typ.unit))
        values = column.cast(pa.timestamp("ns")).to_numpy().astype("datetime64[ns]")
        missing = np.isnat(values)
        days = values.astype("datetime64[D]").astype("datetime64[ns]")
        timed = ~missing & (days != values)
        issues = [Issue(timed, "time_of_day",
                        "{v} has a time of day; give the date only (period start)")]
        return ParsedColumn(spec, values, missing, [i for i in issues if i.mask.any()])
    text = pc.utf8_trim_whitespace(_as_text(column))
    encoded = text.combine_chunks().dictionary_encode()
    uniques = pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    parsed = pd.to_datetime(uniques, format=date_format or ISO_DATE, errors="coerce")
    parsed_values = parsed.to_numpy().astype("datetime64[ns]")
    na = _na_mask(pa.chunked_array([encoded.dictionary]))
    values = parsed_values[codes]
    missing = na[codes]
    invalid = np.isnat(values) & ~missing
    wanted = "YYYY-MM-DD" if date_format is None else f"the declared format {date_format}"
    fix = (
        "use ISO dates (YYYY-MM-DD) or declare the format with --date-format"
        if date_format is None else "fix the date or the --date-format"
    )
    if invalid.any():  # say which --date-format reads these cells, when one does
        bad_unique = np.isnat(parsed_values) & ~na
        fix = date_format_hint(uniques[~na], uniques[bad_unique], date_format) or fix
    issue = Issue(invalid, "bad_date", f"'{{v}}' is not a valid date in {wanted}; {fix}")
    return ParsedColumn(spec, values, missing, [issue] if invalid.any() else [])


def _parse_number(column: pa.ChunkedArray, spec: ColumnSpec) -> ParsedColumn:
    typ = column.type
    if pa.types.is_dictionary(typ):
        column = column.cast(typ.value_type)
        typ = column.type
    issues: list[Issue] = []
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        missing = np.isnan(values)
        invalid = np.zeros(values.shape, dtype=bool)
    else:
        text = pc.utf8_trim_whitespace(_as_text(column))
        missing = _na_mask(text)
        cleaned = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)
        try:
            values = cleaned.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
            invalid = np.zeros(values.shape, dtype=bool)
        except pa.ArrowInvalid:
            number = _to_bool(pc.fill_null(pc.match_substring_regex(cleaned, _NUMBER), False))
            infinite = _to_bool(pc.is_in(pc.utf8_lower(text), value_set=_INF_TOKENS))
            keep = pc.if_else(pa.array(number), cleaned, pa.scalar(None, pa.string()))
            values = keep.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
            values[infinite] = np.inf
            invalid = ~missing & ~number & ~infinite
        # "nan" may slip through the cast as a float NaN; it is a missing value, not a number.
        missing = missing | (np.isnan(values) & ~invalid)
    if spec.kind == "flag":
        bad = invalid | (~missing & ~np.isin(values, (0.0, 1.0)))
        issues.append(Issue(bad, "not_a_flag", f"'{{v}}' is not 0 or 1; {spec.hint}"))
        return ParsedColumn(spec, values, missing, [i for i in issues if i.mask.any()])
    issues.append(Issue(invalid, "not_a_number", f"'{{v}}' is not a number; {_NUMBER_FIX}"))
    infinite = np.isinf(values)
    issues.append(Issue(infinite, "not_finite", f"{{v}} is not a finite number; {spec.hint}"))
    finite = np.isfinite(values)
    if spec.kind == "int":
        whole = np.zeros(values.shape, dtype=bool)
        np.equal(np.floor(values, where=finite, out=np.zeros_like(values)), values,
                 where=finite, out=whole)
        issues.append(Issue(finite & ~whole, "not_whole_number",
                            f"{{v}} is not a whole number; {spec.hint}"))
    if spec.min_value is not None:
        below = np.zeros(values.shape, dtype=bool)
        np.less(values, spec.min_value, where=finite, out=below)
        what = "is negative" if spec.min_value == 0 else f"is below the minimum {spec.min_value:g}"
        issues.append(Issue(below, "below_minimum", f"{{v}} {what}; {spec.hint}"))
    return ParsedColumn(spec, values, missing, [i for i in issues if i.mask.any()])
