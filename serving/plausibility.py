"""Which dates a post may carry: sell-through only in the first periods after the model's
origin, on its grid; inventory `as_of` dates neither absurdly old nor far in the future.

One mistyped year (2062 for 2026) would otherwise move every series' origin decades ahead
and make every later real period "already in the model". The window is
`Settings.max_periods_ahead` periods (CHANNELCAST_MAX_PERIODS_AHEAD). A period at or
before the origin is never taken again: one applied by a sell-through batch is corrected by
reverting that batch (and any later one) and posting the corrected rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.periods import freq_word, period_index
from serving.contract import RowProblem
from training.engine.forecast import forecast_dates

__all__ = ["EARLIEST_AS_OF", "PeriodWindow", "as_of_problems", "period_problems"]

EARLIEST_AS_OF = pd.Timestamp("1900-01-01")
_SHOWN = 1000  # problems listed in one answer (all are counted)


def _day(value: pd.Timestamp) -> str:
    return f"{value:%Y-%m-%d}"


@dataclass(frozen=True)
class PeriodWindow:
    """The periods a sell-through post may carry: `ahead` periods after `origin`."""

    origin: pd.Timestamp
    freq: str
    ahead: int

    @property
    def periods(self) -> pd.DatetimeIndex:
        return forecast_dates(self.origin, self.ahead, self.freq)

    @property
    def unit(self) -> str:
        return freq_word(self.freq)

    def allowed(self) -> str:
        """`allowed: 2025-12-29 .. 2026-01-19 (the 4 weekly periods after ...)`."""
        periods = self.periods
        return (f"allowed: {_day(periods[0])} .. {_day(periods[-1])} (the {self.ahead} "
                f"{self.unit} periods after the model's origin {_day(self.origin)})")


def _days(dates: Sequence[date]) -> npt.NDArray[np.datetime64]:
    # datetime64[D], not pandas' nanoseconds: years 1 to 9999 are all representable
    return np.array(list(dates), dtype="datetime64[D]")


def period_problems(dates: Sequence[date], window: PeriodWindow, *, field: str,
                    why_old: Callable[[date], str]) -> tuple[int, list[RowProblem]]:
    """How many rows' dates fall outside `window`, and the first of them as problems.

    `why_old(day)` says why a period at or before the origin cannot be posted (and how to
    correct it).
    """
    days = _days(dates)
    periods = window.periods
    old = days <= np.datetime64(_day(window.origin))
    far = days > np.datetime64(_day(periods[-1]))
    inside = np.flatnonzero(~old & ~far)
    off = np.zeros(len(days), dtype=bool)
    off[inside] = np.isnan(period_index(pd.DatetimeIndex(days[inside]), start=window.origin,
                                        freq=window.freq))
    bad = np.flatnonzero(off | old | far)
    allowed = window.allowed()
    problems = []
    for i in bad[:_SHOWN]:
        day = days[i].item()
        if off[i]:
            kind, msg = "off_grid_date", (f"{day} is not a period start on the model's "
                                          f"{window.freq} grid")
        elif old[i]:
            kind, msg = "not_after_origin", (f"{day} is not after the model's last period "
                                             f"{_day(window.origin)}: {why_old(day)}")
        else:
            kind, msg = "beyond_window", (f"{day} is more than {window.ahead} {window.unit} "
                                          "periods after the model's origin")
        problems.append(RowProblem(loc=("body", field, int(i), "date"), msg=f"{msg}; {allowed}",
                                   type=kind, value=str(day)))
    return len(bad), problems


def as_of_problems(dates: Sequence[date], *, today: pd.Timestamp,
                   window: PeriodWindow | None, field: str = "inventory"
                   ) -> tuple[int, list[RowProblem]]:
    """How many `as_of` dates are before 1900 or later than `ahead` periods after today or
    the model's origin (whichever is later), and the first of them as problems. Without a
    model (`window` None) the limit is 4 weeks after today."""
    if window is None:
        span, after = pd.Timedelta(weeks=4), f"up to 4 weeks after today {_day(today)}"
    else:
        span = window.periods[-1] - window.origin
        after = (f"up to {window.ahead} {window.unit} periods after today {_day(today)} or "
                 f"the model's origin {_day(window.origin)}, whichever is later")
    latest = max(today, window.origin if window else today) + span
    allowed = f"allowed: {_day(EARLIEST_AS_OF)} .. {_day(latest)} ({after})"
    days = _days(dates)
    bad = np.flatnonzero((days < np.datetime64(_day(EARLIEST_AS_OF)))
                         | (days > np.datetime64(_day(latest))))
    problems = [RowProblem(loc=("body", field, int(i), "as_of"),
                           msg=f"{days[i].item()} is not a plausible stock date; {allowed}",
                           type="implausible_date", value=str(days[i].item()))
                for i in bad[:_SHOWN]]
    return len(bad), problems
