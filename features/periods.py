"""Period arithmetic: frequency strings, one period's offset and length, seasons, grids.

A bottom module: imports nothing of ours, so every floor can use it. The grids are the
contract's: weekly periods start on one weekday (`W-MON` ... `W-SUN`), daily periods are
days (`D`) and monthly periods start on the first of the month (`MS`; `M` and `ME` are read
as `MS`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "DAY_NAMES",
    "MONTHLY",
    "WEEKDAYS",
    "freq_base",
    "freq_code",
    "freq_word",
    "is_monthly",
    "on_grid",
    "parse_freq",
    "period_days",
    "period_grid",
    "period_index",
    "period_offset",
    "period_word",
    "same_freq",
    "season_length",
    "weekly_freq",
]

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHLY = ("MS", "M", "ME")
_SEASONS = {"W": 52, "D": 7, "MS": 12, "M": 12, "ME": 12}
_DAYS = {"W": 7.0, "D": 1.0, "MS": 365.25 / 12, "M": 365.25 / 12, "ME": 365.25 / 12}
_WORDS = {"W": ("weekly", "week"), "D": ("daily", "day")}


def freq_base(freq: str) -> str:
    """The frequency's unit without its anchor, upper-case ("W-MON" -> "W", "ms" -> "MS")."""
    return str(freq).split("-")[0].upper()


def is_monthly(freq: str) -> bool:
    """Whether `freq` is a monthly grid (MS, M or ME)."""
    return freq_base(freq) in MONTHLY


def parse_freq(freq: str | None) -> tuple[str | None, int | None]:
    """Split a declared frequency into its kind (`W`, `D`, `M`) and weekly anchor (0 = Monday).

    Accepts `W`, `D`, `M`, `MS` and `W-MON` ... `W-SUN` (case-insensitive); None means infer.

    Raises:
        ValueError: `freq` is none of those.
    """
    if freq is None:
        return None, None
    f = freq.strip().upper()
    if f in ("D", "W"):
        return f, None
    if f in ("M", "MS"):
        return "M", None
    if f.startswith("W-") and f[2:] in WEEKDAYS:
        return "W", WEEKDAYS.index(f[2:])
    raise ValueError(f"`freq` must be W, D or M (or W-MON ... W-SUN, MS); got {freq!r}")


def freq_code(kind: str, anchor: int | None) -> str:
    """The pandas frequency of a `parse_freq` kind and anchor ("M" -> "MS"; "W", 4 -> "W-FRI")."""
    return {"D": "D", "M": "MS"}.get(kind) or f"W-{WEEKDAYS[anchor or 0]}"


def weekly_freq(first: pd.Timestamp | str) -> str:
    """The weekly frequency anchored on the weekday of `first` ("2023-01-02" -> "W-MON")."""
    return f"W-{WEEKDAYS[pd.Timestamp(first).weekday()]}"


def same_freq(a: str, b: str) -> bool:
    """Whether two frequency strings name the same pandas offset ("W" and "W-SUN" do)."""
    return bool(pd.tseries.frequencies.to_offset(a) == pd.tseries.frequencies.to_offset(b))


def freq_word(freq: str) -> str:
    """The adjective of a frequency ("weekly", "daily", "monthly"); unknown ones as given."""
    base = freq_base(freq)
    return "monthly" if base in MONTHLY else _WORDS[base][0] if base in _WORDS else freq


def period_word(freq: str) -> str:
    """The noun of one period ("week", "day"; anything else "month")."""
    base = freq_base(freq)
    return _WORDS[base][1] if base in _WORDS else "month"


def period_offset(freq: str) -> pd.DateOffset:
    """One period of `freq` as a calendar offset (a week, a day or a month)."""
    if is_monthly(freq):
        return pd.DateOffset(months=1)
    return pd.DateOffset(days=7 if freq_base(freq) == "W" else 1)


def period_days(freq: str) -> float:
    """Days per period of a pandas frequency: W-* -> 7, D -> 1, MS/M -> 30.44."""
    base = freq_base(freq)
    if base not in _DAYS:
        raise ValueError(f"`freq` must be weekly (W, W-XXX), daily (D) or monthly (MS); "
                         f"got {freq!r}.")
    return _DAYS[base]


def season_length(freq: str) -> int:
    """Periods per year for a pandas frequency string ("W-MON" -> 52, "D" -> 7, "MS" -> 12).

    Daily data uses the weekly cycle: it is the strongest season in daily sell-through.
    """
    base = freq_base(freq)
    if base not in _SEASONS:
        raise ValueError(f"`freq` must be weekly (W-XXX), daily (D) or monthly (MS); got {freq!r}.")
    return _SEASONS[base]


def period_grid(start: pd.Timestamp, periods: int, freq: str) -> pd.DatetimeIndex:
    """The `periods` period starts of the `freq` grid from `start` on."""
    if is_monthly(freq):
        return pd.date_range(start, periods=periods, freq="MS")
    return pd.date_range(start, periods=periods, freq="7D" if freq_base(freq) == "W" else "D")


def period_index(dates: pd.Series | pd.DatetimeIndex, *, start: pd.Timestamp,
                 freq: str) -> npt.NDArray[np.float64]:
    """Integer position of each date on the `freq` grid that starts at `start`.

    Dates off the grid (not a whole number of periods from `start`) give NaN positions, so a
    caller that skipped validation sees them instead of having them silently rounded.
    """
    d = pd.DatetimeIndex(dates)
    if is_monthly(freq):
        pos = (d.year - start.year) * 12 + (d.month - start.month)
        return np.where(d.day == 1, pos, np.nan).astype(np.float64)
    step = 7 if freq_base(freq) == "W" else 1
    days = (d - start).days.to_numpy().astype(np.float64)
    return np.where(days % step == 0, days / step, np.nan)


def on_grid(dates: pd.Series | pd.DatetimeIndex, *, start: pd.Timestamp,
            freq: str) -> npt.NDArray[np.bool_]:
    """Whether each date is a whole number of `freq` periods from `start`."""
    return ~np.isnan(period_index(dates, start=start, freq=freq))
