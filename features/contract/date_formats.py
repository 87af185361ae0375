"""Recognise how non-ISO date cells are written, to tell the user which `--date-format` to pass.

Detection reads the values: a format is a candidate when it reads every distinct cell as a
date. A day field above 12 is what tells `dd/mm/yyyy` from `mm/dd/yyyy`; when no cell has one,
both stay candidates and the hint names both.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["DATE_FORMATS", "date_format_hint", "describe_format", "guess_date_formats"]

DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%Y%m%d",
)
"""Formats recognised, ISO first; day-first before month-first."""

_MAX_VALUES = 20_000  # distinct cells tried per format (dates have few distinct values)
_FIELDS = (("%d", "dd"), ("%m", "mm"), ("%Y", "yyyy"), ("%y", "yy"))


def describe_format(fmt: str) -> str:
    """A strptime format as people write it: `%d/%m/%Y` -> `dd/mm/yyyy`."""
    for code, text in _FIELDS:
        fmt = fmt.replace(code, text)
    return fmt


def guess_date_formats(texts: Iterable[str]) -> list[str]:
    """The formats of `DATE_FORMATS` that read every one of `texts` as a date ([] if none)."""
    values = pd.Series(list(dict.fromkeys(texts))[:_MAX_VALUES], dtype=object)
    if values.empty:
        return []
    return [
        fmt for fmt in DATE_FORMATS
        if pd.to_datetime(values, format=fmt, errors="coerce").notna().all()
    ]


def date_format_hint(
    texts: Iterable[str], bad: Iterable[str], declared: str | None
) -> str | None:
    """How to read a date column whose `bad` cells did not parse, or None when unrecognised.

    Args:
        texts: every distinct non-empty cell of the column.
        bad: the cells that did not parse with `declared` (ISO when None).
        declared: the `--date-format` given, or None.

    Returns:
        E.g. "dates look like dd/mm/yyyy: pass `--date-format %d/%m/%Y`".
    """
    fits = guess_date_formats(texts)
    if fits == ["%Y-%m-%d"] and declared is not None:
        return "dates look like yyyy-mm-dd (ISO), which is the default: leave out --date-format"
    fits = [f for f in fits if f not in ("%Y-%m-%d", declared)]
    if fits:
        which = " (no day above 12 tells which)" if len(fits) > 1 else ""
        return (f"dates look like {' or '.join(describe_format(f) for f in fits)}{which}: pass "
                + " or ".join(f"`--date-format {f}`" for f in fits))
    fits = guess_date_formats(bad)
    if fits:
        return (f"this date looks like {' or '.join(describe_format(f) for f in fits)} but "
                "other dates in the column do not: write every date in one format (YYYY-MM-DD, "
                "or the one you pass with --date-format)")
    return None
