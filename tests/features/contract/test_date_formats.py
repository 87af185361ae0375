"""Which `--date-format` reads a column of non-ISO dates, decided from the values."""

from __future__ import annotations

import pytest

from features.contract.date_formats import date_format_hint, describe_format, guess_date_formats


@pytest.mark.parametrize(("texts", "formats"), [
    (["01/01/2024", "15/01/2024"], ["%d/%m/%Y"]),           # a day above 12 first: day-first
    (["01/15/2024", "02/01/2024"], ["%m/%d/%Y"]),           # ... second: month-first
    (["01/02/2024", "01/03/2024"], ["%d/%m/%Y", "%m/%d/%Y"]),  # no day above 12: both
    (["7/1/2024", "14/1/2024"], ["%d/%m/%Y"]),              # without leading zeros
    (["15.01.2024", "22.01.2024"], ["%d.%m.%Y"]),
    (["15-01-2024", "01-02-2024"], ["%d-%m-%Y"]),
    (["2024/01/15", "2024/02/01"], ["%Y/%m/%d"]),
    (["15/01/24", "22/01/24"], ["%d/%m/%y"]),
    (["20240115"], ["%Y%m%d"]),
    (["2024-01-15"], ["%Y-%m-%d"]),
    (["15/01/2024", "2024-01-22"], []),                     # mixed: no single format
    (["last week"], []),
])
def test_guess_date_formats(texts: list[str], formats: list[str]) -> None:
    assert guess_date_formats(texts) == formats


def test_hint_names_the_flag_to_pass_or_both_candidates() -> None:
    assert date_format_hint(["01/01/2024", "15/01/2024"], ["01/01/2024"], None) == (
        "dates look like dd/mm/yyyy: pass `--date-format %d/%m/%Y`")
    assert date_format_hint(["01/02/2024"], ["01/02/2024"], None) == (
        "dates look like dd/mm/yyyy or mm/dd/yyyy (no day above 12 tells which): pass "
        "`--date-format %d/%m/%Y` or `--date-format %m/%d/%Y`")
    # a declared month-first format refused a day above 12: the values say day-first
    assert date_format_hint(["01/02/2024", "13/02/2024"], ["13/02/2024"], "%m/%d/%Y") == (
        "dates look like dd/mm/yyyy: pass `--date-format %d/%m/%Y`")
    assert date_format_hint(["2024-01-01"], ["2024-01-01"], "%d/%m/%Y") == (
        "dates look like yyyy-mm-dd (ISO), which is the default: leave out --date-format")
    assert date_format_hint(["2024-01-01", "15/01/2024"], ["15/01/2024"], None) == (
        "this date looks like dd/mm/yyyy but other dates in the column do not: write every date "
        "in one format (YYYY-MM-DD, or the one you pass with --date-format)")
    assert date_format_hint(["soon"], ["soon"], None) is None
    assert describe_format("%d.%m.%y") == "dd.mm.yy"
