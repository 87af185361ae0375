"""The channel network of the synthetic generator: regions -> distributors -> dealers, plus
own retail stores and e-commerce shops under the regions.

Only selling nodes (dealers, retail stores, e-commerce shops) have sell-through; regions and
distributors are aggregation nodes. Each selling channel has its own volume, lead time,
review period, priority, promotion take-up and holiday response (`CHANNEL_PROFILES`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.schema import (
    CAPACITY,
    CHANNEL,
    LEAD_TIME,
    NODE,
    PARENT,
    PRIORITY,
    REVIEW_PERIOD,
)

__all__ = ["CHANNEL_PROFILES", "ChannelProfile", "Network", "build_network"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ChannelProfile:
    """How one selling channel behaves.

    Attributes:
        share: share of the selling nodes in this channel (dealers take the rest).
        volume: median units per week of a median item at a median node of the channel.
        volume_sigma: lognormal spread of node volume within the channel.
        lead_days: inclusive range of replenishment lead times in days.
        review_days: review periods in days to draw from.
        safety_z: safety factor of the node's order-up-to policy.
        promo_take_up: probability that a node joins an item's promotion campaign.
        price_factor: shelf price relative to the item's list price.
        black_friday: response to Black Friday / Cyber Monday (1 = average).
        christmas: response to the Christmas season (1 = average).
        weekday: relative daily volume Monday..Sunday (daily data only).
    """

    share: float
    volume: float
    volume_sigma: float
    lead_days: tuple[int, int]
    review_days: tuple[int, ...]
    safety_z: float
    promo_take_up: float
    price_factor: float
    black_friday: float
    christmas: float
    weekday: tuple[float, float, float, float, float, float, float]


CHANNEL_PROFILES: dict[str, ChannelProfile] = {
    "dealer": ChannelProfile(
        share=0.0, volume=0.7, volume_sigma=0.7, lead_days=(7, 21), review_days=(7, 14, 14, 28),
        safety_z=1.1, promo_take_up=0.45, price_factor=1.03, black_friday=0.5, christmas=0.7,
        weekday=(1.15, 1.1, 1.1, 1.1, 1.2, 0.8, 0.05),
    ),
    "retail": ChannelProfile(
        share=0.15, volume=3.5, volume_sigma=0.35, lead_days=(3, 7), review_days=(7,),
        safety_z=1.3, promo_take_up=0.8, price_factor=1.0, black_friday=1.0, christmas=1.2,
        weekday=(0.8, 0.85, 0.9, 1.0, 1.2, 1.6, 0.65),
    ),
    "ecommerce": ChannelProfile(
        share=0.05, volume=9.0, volume_sigma=0.4, lead_days=(2, 4), review_days=(1, 2, 7),
        safety_z=1.6, promo_take_up=0.9, price_factor=0.96, black_friday=1.6, christmas=1.0,
        weekday=(1.2, 1.1, 1.05, 1.0, 0.95, 0.8, 0.9),
    ),
}
SELLING_CHANNELS = ("dealer", "retail", "ecommerce")  # ids sort in this order: DLR < STR < WEB
_PREFIX = {"region": "REG", "distributor": "DST", "dealer": "DLR", "retail": "STR",
           "ecommerce": "WEB"}


@dataclass(frozen=True)
class Network:
    """The node table plus per-selling-node attributes, aligned with `selling_ids`.

    Attributes:
        nodes: contract `nodes` table (capacity still empty; filled after the stock run).
        selling_ids: ids of the selling nodes, in series order.
        channel: channel of each selling node.
        volume: median weekly units of a median item at each selling node.
        lead_days, review_days: replenishment lead time and review period in days.
        review_offset: day offset of each node's review calendar.
        safety_z, promo_take_up, price_factor, black_friday, christmas: per node, from the
            channel profile with some node-level noise.
        weekday: (nodes, 7) relative daily volume, each row with mean 1.
        priority: 1 = served first.
        has_capacity: whether the node reports a storage capacity.
    """

    nodes: pd.DataFrame
    selling_ids: npt.NDArray[np.str_]
    channel: npt.NDArray[np.str_]
    volume: FloatArray
    lead_days: IntArray
    review_days: IntArray
    review_offset: IntArray
    safety_z: FloatArray
    promo_take_up: FloatArray
    price_factor: FloatArray
    black_friday: FloatArray
    christmas: FloatArray
    weekday: FloatArray
    priority: IntArray
    has_capacity: npt.NDArray[np.bool_]


def _channel_counts(n_selling: int) -> dict[str, int]:
    n_web = max(1, round(n_selling * CHANNEL_PROFILES["ecommerce"].share)) if n_selling >= 3 else 0
    n_store = max(1, round(n_selling * CHANNEL_PROFILES["retail"].share)) if n_selling >= 2 else 0
    return {"dealer": n_selling - n_web - n_store, "retail": n_store, "ecommerce": n_web}


def _ids(kind: str, count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"{_PREFIX[kind]}-{j + 1:0{width}d}" for j in range(count)]


def _spread(rng: np.random.Generator, n_children: int, n_parents: int) -> IntArray:
    """Parent index per child: every parent gets at least one child, the rest unevenly."""
    if n_parents == 0:
        return np.zeros(0, dtype=np.int64)
    weights = rng.dirichlet(np.full(n_parents, 2.0))
    rest = rng.choice(n_parents, size=max(0, n_children - n_parents), p=weights)
    first = np.arange(min(n_children, n_parents))
    return rng.permutation(np.concatenate([first, rest]).astype(np.int64))


def _selling_nodes(rng: np.random.Generator, counts: dict[str, int], regions: list[str],
                   dists: list[str], dealer_dist: npt.NDArray[np.int64]
                   ) -> tuple[list[str], list[str | None], list[str]]:
    """Ids, parents and channels of the selling nodes: dealers under distributors, the rest
    under a random region (the national web shop under nobody)."""
    selling_ids: list[str] = []
    parents: list[str | None] = []
    channel: list[str] = []
    for kind in SELLING_CHANNELS:
        ids = _ids(kind, counts[kind])
        selling_ids += ids
        channel += [kind] * len(ids)
        if kind == "dealer":
            parents += [dists[j] for j in dealer_dist]
        else:
            parents += [regions[j] for j in rng.integers(0, len(regions), len(ids))]
    if counts["ecommerce"]:
        parents[-counts["ecommerce"]] = None  # the national web shop reports to nobody
    return selling_ids, parents, channel


def build_network(rng: np.random.Generator, n_selling: int) -> Network:
    """Draw the hierarchy and node attributes for `n_selling` selling nodes."""
    counts = _channel_counts(n_selling)
    n_region = int(np.clip(np.ceil(n_selling / 40), 1, 8))
    n_dist = int(np.ceil(counts["dealer"] / 12))
    regions, dists = _ids("region", n_region), _ids("distributor", n_dist)
    dist_region = _spread(rng, n_dist, n_region)
    dealer_dist = _spread(rng, counts["dealer"], n_dist)

    selling_ids, parents, channel = _selling_nodes(rng, counts, regions, dists, dealer_dist)
    chan = np.array(channel)
    n = len(selling_ids)

    def per_node(attr: str) -> FloatArray:
        return np.array([getattr(CHANNEL_PROFILES[c], attr) for c in channel], dtype=np.float64)

    volume = per_node("volume") * np.exp(per_node("volume_sigma") * rng.standard_normal(n))
    lead = np.array([rng.integers(*CHANNEL_PROFILES[c].lead_days, endpoint=True) for c in channel],
                    dtype=np.int64)
    review = np.array([rng.choice(CHANNEL_PROFILES[c].review_days) for c in channel],
                      dtype=np.int64)
    priority = np.ones(n, dtype=np.int64)
    is_dealer = chan == "dealer"
    if is_dealer.any():
        priority[is_dealer] = np.where(volume[is_dealer] >= np.median(volume[is_dealer]), 2, 3)
    priority[chan == "retail"] = rng.choice([1, 2], size=int((chan == "retail").sum()))
    has_capacity = (chan == "retail") | (is_dealer & (rng.random(n) < 0.3))
    weekday = np.array([CHANNEL_PROFILES[c].weekday for c in channel]) * np.exp(
        0.05 * rng.standard_normal((n, 7)))
    weekday /= weekday.mean(axis=1, keepdims=True)

    nodes = pd.DataFrame({
        NODE: regions + dists + selling_ids,
        PARENT: [None] * n_region + [regions[j] for j in dist_region] + parents,
        CHANNEL: ["region"] * n_region + ["distributor"] * n_dist + channel,
        LEAD_TIME: np.concatenate([np.zeros(n_region, np.int64),
                                   rng.integers(14, 36, n_dist), lead]),
        REVIEW_PERIOD: np.concatenate([np.full(n_region, 7), np.full(n_dist, 14), review]),
        PRIORITY: np.concatenate([np.ones(n_region, np.int64), np.full(n_dist, 2), priority]),
        CAPACITY: pd.array([None] * (n_region + n_dist + n), dtype="Int64"),
    })
    return Network(
        nodes=nodes,
        selling_ids=np.array(selling_ids),
        channel=chan,
        volume=volume,
        lead_days=lead,
        review_days=review,
        review_offset=rng.integers(0, 28, n),
        safety_z=per_node("safety_z") + 0.15 * rng.standard_normal(n),
        promo_take_up=np.clip(per_node("promo_take_up") + 0.1 * rng.standard_normal(n), 0.05, 0.95),
        price_factor=per_node("price_factor") * np.exp(0.02 * rng.standard_normal(n)),
        black_friday=per_node("black_friday"),
        christmas=per_node("christmas"),
        weekday=weekday,
        priority=priority,
        has_capacity=has_capacity,
    )
