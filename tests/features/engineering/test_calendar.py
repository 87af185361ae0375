import pandas as pd

from features.engineering.calendar import calendar_features, holidays


def test_holiday_weeks_contain_christmas_and_black_friday():
    weeks = pd.date_range("2024-11-18", periods=7, freq="W-MON")
    cal = calendar_features(weeks, freq="W-MON")
    # week of 2024-11-25 holds Thanksgiving and Black Friday; 23rd: 24+25; 30th: 31+1
    assert cal["holiday"].tolist() == [0, 2, 0, 0, 0, 2, 2]
    assert cal["week_of_year"].iloc[0] == 47


def test_easter_dates_are_right():
    days = holidays(range(2024, 2026))
    assert pd.Timestamp("2024-03-31") in days and pd.Timestamp("2025-04-20") in days


def test_daily_has_day_of_week_and_monthly_counts_month_holidays():
    daily = calendar_features(pd.date_range("2024-12-23", periods=3, freq="D"), freq="D")
    assert daily["day_of_week"].tolist() == [0, 1, 2]
    assert daily["holiday"].tolist() == [0, 1, 1]
    monthly = calendar_features(pd.to_datetime(["2024-12-01", "2024-06-01"]), freq="MS")
    assert monthly["holiday"].tolist() == [3, 0]
