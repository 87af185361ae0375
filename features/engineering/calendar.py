"""Calendar features of a period: position in the year and the retail holidays it contains.

Calendar values of a future period are known at any origin, so they are safe features for
targets after the origin.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from features.periods import freq_base, period_days

__all__ = ["calendar_features", "holidays"]


def _easter(year: int) -> date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = ((h + l_ - 7 * m + 114) % 31) + 1
    return date(year, month, day)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def holidays(years: range) -> pd.DatetimeIndex:
    """Days that move retail demand: New Year, Easter, Thanksgiving, Black Friday, Christmas."""
    days: list[date] = []
    for y in years:
        thanksgiving = _nth_weekday(y, 11, 3, 4)
        days += [date(y, 1, 1), _easter(y), thanksgiving, thanksgiving + timedelta(days=1),
                 date(y, 12, 24), date(y, 12, 25), date(y, 12, 31)]
    return pd.DatetimeIndex(sorted(days))


def calendar_features(dates: pd.DatetimeIndex, *, freq: str) -> pd.DataFrame:
    """Calendar columns for each period start in `dates`.

    Columns: `week_of_year`, `month`, `day_of_week` (daily data only) and `holiday` (number of
    holidays inside the period; for monthly periods, inside the month).
    """
    dates = pd.DatetimeIndex(dates)
    out = pd.DataFrame(index=range(len(dates)))
    out["week_of_year"] = dates.isocalendar().week.to_numpy().astype(np.float64)
    out["month"] = dates.month.to_numpy().astype(np.float64)
    if freq_base(freq) == "D":
        out["day_of_week"] = dates.day_of_week.to_numpy().astype(np.float64)
    if len(dates) == 0:
        out["holiday"] = np.zeros(0)
        return out
    hol = holidays(range(dates.min().year - 1, dates.max().year + 2)).to_numpy()
    starts = dates.to_numpy()
    if freq_base(freq) not in ("W", "D"):
        ends = (dates + pd.offsets.MonthBegin(1)).to_numpy()
    else:
        ends = starts + np.timedelta64(int(period_days(freq)), "D")
    out["holiday"] = (np.searchsorted(hol, ends) - np.searchsorted(hol, starts)).astype(np.float64)
    return out
