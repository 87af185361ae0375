"""The plausibility window of posted dates, as pure functions: every kind of bad date is
named with its row and the allowed range, including years pandas cannot hold."""

from __future__ import annotations

from datetime import date

import pandas as pd

from serving.plausibility import PeriodWindow, as_of_problems, period_problems

WINDOW = PeriodWindow(origin=pd.Timestamp("2025-12-22"), freq="W-MON", ahead=4)
ALLOWED = ("allowed: 2025-12-29 .. 2026-01-19 (the 4 weekly periods after the model's origin "
           "2025-12-22)")


def test_sell_through_dates_inside_the_window_pass_and_the_others_are_named():
    days = [date(2025, 12, 29), date(2026, 1, 19), date(2062, 1, 2), date(2025, 12, 30),
            date(2025, 12, 22), date(1, 1, 1), date(9999, 12, 31), date(2026, 1, 26)]
    count, problems = period_problems(days, WINDOW, field="rows", why_old=lambda _day: "old")
    assert count == 6
    assert [(p.loc, p.type, p.value) for p in problems] == [
        (("body", "rows", 2, "date"), "beyond_window", "2062-01-02"),
        (("body", "rows", 3, "date"), "off_grid_date", "2025-12-30"),
        (("body", "rows", 4, "date"), "not_after_origin", "2025-12-22"),
        (("body", "rows", 5, "date"), "not_after_origin", "0001-01-01"),
        (("body", "rows", 6, "date"), "beyond_window", "9999-12-31"),
        (("body", "rows", 7, "date"), "beyond_window", "2026-01-26")]
    assert all(p.msg.endswith(ALLOWED) for p in problems)
    assert problems[2].msg.startswith("2025-12-22 is not after the model's last period "
                                      "2025-12-22: old;")


def test_monthly_windows_count_months():
    window = PeriodWindow(origin=pd.Timestamp("2025-12-01"), freq="MS", ahead=2)
    count, problems = period_problems([date(2026, 2, 1), date(2026, 3, 1), date(2026, 1, 2)],
                                      window, field="rows", why_old=str)
    assert count == 2 and [p.type for p in problems] == ["beyond_window", "off_grid_date"]
    assert "allowed: 2026-01-01 .. 2026-02-01 (the 2 monthly periods" in problems[0].msg


def test_as_of_dates_run_from_1900_to_the_window_after_today_or_the_origin():
    today = pd.Timestamp("2026-12-04")
    days = [date(1899, 12, 31), date(1900, 1, 1), date(2027, 1, 1), date(2027, 1, 2)]
    count, problems = as_of_problems(days, today=today, window=WINDOW)
    assert count == 2 and [p.loc[2] for p in problems] == [0, 3]
    assert "allowed: 1900-01-01 .. 2027-01-01 (up to 4 weekly periods after today 2026-12-04 " \
        "or the model's origin 2025-12-22, whichever is later)" in problems[0].msg
    count, problems = as_of_problems([date(2027, 1, 1), date(2027, 1, 2)], today=today,
                                     window=None)
    assert count == 1 and problems[0].loc[2] == 1  # without a model: 4 weeks after today
