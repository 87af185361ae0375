"""True (uncensored) demand of the synthetic generator, per node x item series and period.

Expected demand multiplies, per series: the node's channel volume, the item's popularity and
node-item affinity, the item's category seasonality, holiday peaks scaled by channel and item,
the weekday pattern (daily data), slow trends at item and node level, a slowly wandering item
level and a faster series-level wobble (AR(1) on the log scale), the list-price effect through
the item's elasticity, the life cycle (ramp-up after a launch, fade before discontinuation),
promotion lifts and post-promotion dips. Demand is gamma-Poisson (negative binomial) around it,
so counts are overdispersed integers and slow series are intermittent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from features.synthetic.catalog import Calendar, Campaigns, Catalog
from features.synthetic.network import Network

__all__ = ["DemandPanel", "simulate_demand"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
F32 = np.float32


@dataclass(frozen=True)
class DemandPanel:
    """Demand of every series (node-major: series = node * items + item) over all periods.

    Attributes:
        expected: (series, periods) float32 mean demand; 0 outside the selling window.
        demand: (series, periods) int32 demand drawn around `expected`.
        promo: (series, periods) whether the node takes part in the item's campaign.
        start: first selling period of each series.
        end: one past the last selling period of each series.
        dispersion: gamma shape of each series (smaller = more overdispersed); the variance
            of demand is expected + expected**2 / dispersion.
    """

    expected: npt.NDArray[np.float32]
    demand: npt.NDArray[np.int32]
    promo: npt.NDArray[np.bool_]
    start: IntArray
    end: IntArray
    dispersion: FloatArray


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], *, phi: float, sd: float
         ) -> npt.NDArray[np.float32]:
    """Stationary AR(1) paths along the last axis, with stationary standard deviation `sd`."""
    out = rng.standard_normal(shape, dtype=F32)
    out *= F32(sd * np.sqrt(1 - phi**2))
    out[..., 0] *= F32(1 / np.sqrt(1 - phi**2))
    for t in range(1, shape[-1]):
        out[..., t] += F32(phi) * out[..., t - 1]
    return out


def _log_level(rng: np.random.Generator, network: Network, catalog: Catalog,
               calendar: Calendar) -> npt.NDArray[np.float32]:
    """(nodes, items, periods) log expected demand before life cycle and promotions."""
    n_nodes, n_items, periods = len(network.selling_ids), len(catalog.skus), calendar.periods
    weeks = calendar.period_days / 7  # volumes and AR persistence are set per week
    base = (np.log(network.volume * weeks)[:, None] + np.log(catalog.popularity)
            + 0.35 * rng.standard_normal((n_nodes, n_items)))
    item_slope = rng.normal(0.0, 0.12, n_items)
    node_slope = rng.normal(0.0, 0.08, n_nodes)
    price_effect = catalog.elasticity[:, None] * np.log(catalog.list_price
                                                        / catalog.list_price[:, :1])
    item_log = (catalog.season + item_slope[:, None] * calendar.years + price_effect
                + _ar1(rng, (n_items, periods), phi=0.97**weeks, sd=0.15))
    node_log = node_slope[:, None] * calendar.years[None, :]
    if calendar.period_days == 1:
        node_log = node_log + np.log(network.weekday[:, calendar.weekday])
    level = _ar1(rng, (n_nodes, n_items, periods), phi=0.7**weeks, sd=0.2)
    level += base[:, :, None].astype(F32)
    level += item_log[None, :, :].astype(F32)
    level += node_log[:, None, :].astype(F32)
    holiday = (catalog.holiday_black_friday[None, :, None] * network.black_friday[:, None, None]
               * calendar.black_friday[None, None, :]).astype(F32)
    holiday += (catalog.holiday_christmas[None, :, None] * network.christmas[:, None, None]
                * calendar.christmas[None, None, :]).astype(F32)
    holiday += F32(1.0)
    level += np.log(np.maximum(holiday, F32(0.05)))
    return level


def _selling_window(rng: np.random.Generator, network: Network, catalog: Catalog,
                    calendar: Calendar) -> tuple[IntArray, IntArray]:
    """(nodes, items) first and one-past-last selling period; dealers get launches later."""
    n_nodes, n_items = len(network.selling_ids), len(catalog.skus)
    rollout_days = np.where((network.channel == "dealer")[:, None],
                            rng.integers(0, 22, (n_nodes, n_items)),
                            rng.integers(0, 8, (n_nodes, n_items)))
    late = catalog.launch > 0
    start = catalog.launch[None, :] + np.where(late[None, :],
                                               rollout_days // calendar.period_days, 0)
    end = np.broadcast_to(catalog.end[None, :], (n_nodes, n_items))
    return np.minimum(start, end - 1), end.copy()


def _promotions(rng: np.random.Generator, network: Network, campaigns: Campaigns
                ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """(nodes, items, periods) promo flags and the demand multiplier of lifts and dips."""
    n_nodes = len(network.selling_ids)
    n_items, periods = campaigns.index.shape
    joins = rng.random((n_nodes, n_items, campaigns.count)) < network.promo_take_up[:, None, None]
    on = campaigns.index >= 0
    k = np.maximum(campaigns.index, 0).astype(np.int64)
    items = np.arange(n_items)[:, None]
    promo = joins[:, items, k] & on[None, :, :]
    factor = np.where(promo, campaigns.lift[items, k].astype(F32)[None], F32(1.0))
    ended = promo[:, :, :-1] & ~promo[:, :, 1:]  # ended[..., t]: last promo period is t
    for lag in range(1, int(campaigns.dip_periods.max(initial=1)) + 1):
        if lag >= periods:
            break
        k_end = k[:, : periods - lag]
        in_dip = ended[:, :, : periods - lag] & (campaigns.dip_periods[items, k_end] >= lag)
        in_dip &= ~promo[:, :, lag:]
        depth = campaigns.dip_depth[items, k_end].astype(F32)[None]
        factor[:, :, lag:] = np.where(in_dip, factor[:, :, lag:] * depth, factor[:, :, lag:])
    return promo, factor


def simulate_demand(rng: np.random.Generator, network: Network, catalog: Catalog,
                    calendar: Calendar, campaigns: Campaigns) -> DemandPanel:
    """Expected and drawn demand of every node x item series."""
    n_nodes, n_items, periods = len(network.selling_ids), len(catalog.skus), calendar.periods
    expected = _log_level(rng, network, catalog, calendar)
    np.exp(expected, out=expected)
    start, end = _selling_window(rng, network, catalog, calendar)
    t = np.arange(periods)[None, None, :]
    since = (t - start[:, :, None]).astype(F32)
    launched = (catalog.launch > 0)[None, :, None]
    ramp = np.where(launched, 1 - np.exp(-(since + 1) / catalog.ramp[None, :, None].astype(F32)),
                    F32(1.0))
    fade_periods = calendar.span(56)
    to_go = (end[:, :, None] - t).astype(F32)
    fade = F32(0.35) + F32(0.65) * np.clip(to_go / F32(fade_periods), 0, 1)
    fade = np.where((catalog.end < periods)[None, :, None], fade, F32(1.0))
    promo, promo_factor = _promotions(rng, network, campaigns)
    expected *= ramp
    expected *= fade
    expected *= promo_factor
    expected[(since < 0) | (to_go <= 0)] = 0.0
    n_series = n_nodes * n_items
    expected = expected.reshape(n_series, periods)
    # fast movers are relatively steadier than the long tail: the gamma shape grows with volume
    active = np.maximum((end - start).reshape(-1), 1)
    level = expected.sum(axis=1, dtype=np.float64) / active
    dispersion = rng.uniform(1.5, 5.0, n_series) * (1 + np.sqrt(level) / 2)
    rate = rng.gamma(dispersion[:, None], 1 / dispersion[:, None], (n_series, periods))
    rate *= expected
    demand = rng.poisson(rate).astype(np.int32)
    return DemandPanel(
        expected=expected,
        demand=demand,
        promo=promo.reshape(n_series, periods),
        start=start.reshape(-1),
        end=end.reshape(-1),
        dispersion=dispersion,
    )
