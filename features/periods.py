"""Period arithmetic: frequency strings, the offset of one period, season lengths, grids.

A bottom module: imports nothing of ours, so every floor can use it.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["freq_base", "period_offset", "season_length"]

MONTHLY = ("MS", "M", "ME")
SEASONS = {"W": 52, "D": 7, "MS": 12, "M": 12, "ME": 12}


def freq_base(freq: str) -> str:
    """The frequency's unit without its anchor, upper-case ("W-MON" -> "W", "ms" -> "MS")."""
    return freq.split("-")[0].upper()


def period_offset(freq: str) -> pd.DateOffset:
    """One period of `freq` as a calendar offset (a week, a day or a month)."""
    if freq_base(freq) in MONTHLY:
        return pd.DateOffset(months=1)
    return pd.DateOffset(days=7 if freq_base(freq) == "W" else 1)


def season_length(freq: str) -> int:
    """Periods per year for a pandas frequency string ("W-MON" -> 52, "D" -> 7, "MS" -> 12).

    Daily data uses the weekly cycle: it is the strongest season in daily sell-through.
    """
    base = freq_base(freq)
    if base not in SEASONS:
        raise ValueError(f"`freq` must be weekly (W-XXX), daily (D) or monthly (MS); got {freq!r}.")
    return SEASONS[base]
