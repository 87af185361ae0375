"""Calendar, item catalog and promotion campaigns of the synthetic generator.

The calendar carries the holiday profiles (Black Friday / Cyber Monday, Christmas, the January
slump) averaged over each period's days, so weekly and daily data share one definition. The
catalog holds each item's category, popularity, life cycle (late launches, discontinued items),
list-price path with occasional step changes, price elasticity and pack size. Campaigns are
item-level promotions with a discount, a lift and a post-promotion dip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["Calendar", "Campaigns", "Catalog", "build_calendar", "build_campaigns",
           "build_catalog"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Additive lift of an average item by day offset from Black Friday (Thanksgiving is -1,
# Cyber Monday +3); shoppers hold back the week before.
_BLACK_FRIDAY = {**dict.fromkeys(range(-7, -1), -0.08), -1: -0.4, 0: 2.6, 1: 1.0, 2: 0.6,
                 3: 1.3, 4: 0.25, 5: 0.2, 6: 0.15}
_FOURIER_SCALE = np.array([0.3, 0.15, 0.07])  # log-amplitude sd of harmonics 1..3


@dataclass(frozen=True)
class Calendar:
    """The period grid and the calendar effects on it.

    Attributes:
        dates: period start dates.
        period_days: 7 (weekly) or 1 (daily).
        fourier: (periods, 6) cos/sin of harmonics 1..3 of the day of year at mid-period.
        years: years elapsed since the first period, centred on the middle of the range.
        black_friday: (periods,) additive lift of the Black Friday weekend, mean over the period.
        christmas: (periods,) additive lift of the Christmas season (negative on the closing
            days and in the January slump).
        weekday: (periods,) day of week (0 = Monday) of each period start.
    """

    dates: pd.DatetimeIndex
    period_days: int
    fourier: FloatArray
    years: FloatArray
    black_friday: FloatArray
    christmas: FloatArray
    weekday: IntArray

    @property
    def periods(self) -> int:
        return len(self.dates)

    def span(self, days: float) -> int:
        """A duration in days as a whole number of periods (at least 1)."""
        return max(1, round(days / self.period_days))


def _black_friday(days: pd.DatetimeIndex) -> FloatArray:
    years = np.unique(days.year)
    nov1 = pd.to_datetime(pd.DataFrame({"year": years, "month": 11, "day": 1}))
    # Black Friday is the day after the fourth Thursday of November
    bf = nov1 + pd.to_timedelta((3 - nov1.dt.day_of_week) % 7 + 22, unit="D")
    bf_day = pd.Series(bf.to_numpy(), index=years)
    offset = (days - pd.DatetimeIndex(bf_day.loc[days.year].to_numpy())).days.to_numpy()
    lift = np.zeros(len(days))
    for delta, value in _BLACK_FRIDAY.items():
        lift[offset == delta] = value
    return lift


def _christmas(days: pd.DatetimeIndex) -> FloatArray:
    month, day = days.month.to_numpy(), days.day.to_numpy()
    lift = np.zeros(len(days))
    december = month == 12
    lift[december & (day <= 23)] = 0.1 + 1.0 * ((day[december & (day <= 23)] - 1) / 22.0) ** 2
    lift[december & (day == 24)] = 0.3
    lift[december & (day == 25)] = -0.85
    lift[december & (day >= 27)] = -0.05
    lift[(month == 1) & (day == 1)] = -0.8
    lift[(month == 1) & (day >= 2) & (day <= 21)] = -0.2
    return lift


def build_calendar(start: pd.Timestamp, periods: int, period_days: int) -> Calendar:
    """The grid of `periods` periods of `period_days` days from `start`, with its effects."""
    days = pd.date_range(start, periods=periods * period_days, freq="D")
    dates = days[::period_days]
    mid = dates + pd.Timedelta(days=(period_days - 1) / 2)
    phase = 2 * np.pi * (mid.day_of_year.to_numpy() - 1) / 365.25
    fourier = np.column_stack([f(k * phase) for k in (1, 2, 3) for f in (np.cos, np.sin)])
    years = np.arange(periods) * period_days / 365.25

    def per_period(daily: FloatArray) -> FloatArray:
        return daily.reshape(periods, period_days).mean(axis=1)

    return Calendar(
        dates=dates,
        period_days=period_days,
        fourier=fourier,
        years=years - years.mean(),
        black_friday=per_period(_black_friday(days)),
        christmas=per_period(_christmas(days)),
        weekday=dates.day_of_week.to_numpy().astype(np.int64),
    )


@dataclass(frozen=True)
class Catalog:
    """Items and their attributes, aligned with `skus`.

    Attributes:
        skus: item ids.
        category: category index of each item.
        popularity: lognormal volume multiplier.
        launch: first period the item sells (0 = already on sale before the data start).
        end: one past the last period the item sells (= periods unless discontinued).
        ramp: ramp-up time constant in periods after a launch.
        elasticity: price elasticity of demand (-3 .. -1).
        list_price: (items, periods) list price, with occasional step changes.
        pack_size: units per pack (1, 6, 12 or 24).
        season: (items, periods) log seasonal factor (category shape times item strength).
        holiday_black_friday, holiday_christmas: item sensitivity to each holiday.
    """

    skus: npt.NDArray[np.str_]
    category: IntArray
    popularity: FloatArray
    launch: IntArray
    end: IntArray
    ramp: FloatArray
    elasticity: FloatArray
    list_price: FloatArray
    pack_size: IntArray
    season: FloatArray
    holiday_black_friday: FloatArray
    holiday_christmas: FloatArray


def _life_cycle(rng: np.random.Generator, n: int, periods: int) -> tuple[IntArray, IntArray]:
    launch = np.zeros(n, dtype=np.int64)
    end = np.full(n, periods, dtype=np.int64)
    if periods < 12:
        return launch, end
    late = rng.random(n) < 0.2
    launch[late] = rng.integers(int(0.1 * periods), int(0.75 * periods), late.sum())
    stop = rng.random(n) < 0.1
    min_life = max(6, int(0.2 * periods))
    lo = np.maximum(launch + min_life, int(0.4 * periods))
    cut = rng.integers(0, 1 << 30, n) % np.maximum(periods - 1 - lo, 1) + lo
    end[stop & (lo < periods - 1)] = cut[stop & (lo < periods - 1)]
    return launch, end


def _price_paths(rng: np.random.Generator, n: int, calendar: Calendar) -> FloatArray:
    periods = calendar.periods
    first = np.maximum(np.round(np.exp(np.log(25.0) + 0.8 * rng.standard_normal(n))), 1) - 0.01
    steps = rng.poisson(0.6 * periods * calendar.period_days / 365.25, n)
    log_path = np.zeros((n, periods))
    for i in np.flatnonzero(steps):
        for when in rng.integers(1, max(periods, 2), steps[i]):
            log_path[i, when:] += rng.normal(0.04, 0.06)  # mostly increases
    path = first[:, None] * np.exp(log_path)
    return np.round(np.where(path >= 5, np.round(path) - 0.01, path), 2)


def build_catalog(rng: np.random.Generator, n_items: int, calendar: Calendar) -> Catalog:
    """Draw `n_items` items: categories with their seasonal shapes, life cycles and prices."""
    n_cat = int(np.clip(np.ceil(n_items / 40), 1, 10))
    category = rng.integers(0, n_cat, n_items)
    cat_coef = rng.standard_normal((n_cat, 3, 2)) * _FOURIER_SCALE[None, :, None]
    item_coef = (rng.uniform(0.5, 1.3, n_items)[:, None, None] * cat_coef[category]
                 + 0.05 * rng.standard_normal((n_items, 3, 2)))
    season = item_coef.reshape(n_items, 6) @ calendar.fourier.T
    launch, end = _life_cycle(rng, n_items, calendar.periods)
    list_price = _price_paths(rng, n_items, calendar)
    cheap = list_price[:, 0] < 10
    pack = np.where(cheap, rng.choice([1, 6, 12, 24], n_items, p=[0.2, 0.3, 0.3, 0.2]),
                    rng.choice([1, 6, 12, 24], n_items, p=[0.5, 0.25, 0.17, 0.08]))
    jitter = rng.uniform(0.7, 1.3, (2, n_items))
    return Catalog(
        skus=np.array([f"SKU-{j + 1:0{max(4, len(str(n_items)))}d}" for j in range(n_items)]),
        category=category,
        popularity=np.exp(1.0 * rng.standard_normal(n_items)),
        launch=launch,
        end=end,
        ramp=rng.uniform(14, 56, n_items) / calendar.period_days,
        elasticity=rng.uniform(-3.0, -1.0, n_items),
        list_price=list_price,
        pack_size=pack.astype(np.int64),
        season=season,
        holiday_black_friday=rng.uniform(0.5, 1.5, n_cat)[category] * jitter[0],
        holiday_christmas=rng.uniform(0.5, 1.5, n_cat)[category] * jitter[1],
    )


@dataclass(frozen=True)
class Campaigns:
    """Item-level promotion campaigns.

    Attributes:
        index: (items, periods) campaign number active in each period, -1 when none.
        discount: (items, campaigns) price discount (0.1 .. 0.4).
        lift: (items, campaigns) demand multiplier in the campaign (1.3 .. 3), from the
            discount through the item's elasticity plus a display/advertising lift.
        dip_periods: (items, campaigns) length of the post-promotion dip in periods.
        dip_depth: (items, campaigns) demand multiplier in the dip (0.6 .. 0.9).
    """

    index: npt.NDArray[np.int16]
    discount: FloatArray
    lift: FloatArray
    dip_periods: IntArray
    dip_depth: FloatArray

    @property
    def count(self) -> int:
        return self.discount.shape[1]


def build_campaigns(rng: np.random.Generator, catalog: Catalog, calendar: Calendar) -> Campaigns:
    """Draw promotion campaigns per item inside its selling window; campaigns never overlap
    and leave room for the post-promotion dip before the next one."""
    n_items, periods = len(catalog.skus), calendar.periods
    span_years = periods * calendar.period_days / 365.25
    rate = np.where(rng.random(n_items) < 0.75, rng.uniform(2.0, 6.0, n_items), 0.0)
    wanted = rng.poisson(rate * span_years)
    k_max = max(1, int(wanted.max(initial=0)))
    discount = rng.choice([0.1, 0.15, 0.2, 0.25, 0.3, 0.4], (n_items, k_max))
    display = rng.uniform(1.0, 1.5, (n_items, k_max))
    lift = np.clip((1 - discount) ** catalog.elasticity[:, None] * display, 1.3, 3.0)
    length = rng.choice([4, 7, 10, 14, 21], (n_items, k_max))
    dip_days = rng.choice([7, 14], (n_items, k_max))
    dip_periods = np.vectorize(calendar.span)(dip_days).astype(np.int64)
    index = np.full((n_items, periods), -1, dtype=np.int16)
    for i in np.flatnonzero(wanted):
        lo, hi = catalog.launch[i], catalog.end[i]
        free_from, k = lo, 0
        for first in np.sort(rng.integers(lo, max(hi, lo + 1), wanted[i])):
            if first < free_from or first >= hi:
                continue
            last = min(first + calendar.span(length[i, k]), hi)
            index[i, first:last] = k
            free_from = last + dip_periods[i, k] + 1
            k += 1
    return Campaigns(index=index, discount=discount, lift=lift, dip_periods=dip_periods,
                     dip_depth=rng.uniform(0.6, 0.9, (n_items, k_max)))
