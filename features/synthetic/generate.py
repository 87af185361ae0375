"""A seeded generator of realistic channel sell-through data in the contract's tables.

The generator draws a channel network (`synthetic_network`), a calendar, item catalog and
promotion campaigns (`synthetic_catalog`), the true demand of every node x item series
(`synthetic_demand`) and then runs each series' stock policy to turn demand into censored
sales (`synthetic_stock`). This module assembles the contract tables and writes them.

Example:
    >>> data = generate_channel_data(nodes=4, skus=5, periods=20, seed=1)
    >>> sorted(data.sell_through.columns)[:4]
    ['date', 'node_id', 'on_hand', 'price']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.config import GENERATOR
from features.schema import (
    AS_OF,
    AVAILABLE,
    CAPACITY,
    CHANNEL,
    DATE,
    IN_TRANSIT,
    ITEM,
    MAX_QTY,
    MIN_QTY,
    NODE,
    ON_HAND,
    PACK_SIZE,
    PRICE,
    PROMO,
    SELL_IN,
    UNITS,
)
from features.synthetic.catalog import (
    Calendar,
    Campaigns,
    Catalog,
    build_calendar,
    build_campaigns,
    build_catalog,
)
from features.synthetic.demand import DemandPanel, simulate_demand
from features.synthetic.network import Network, build_network
from features.synthetic.stock import StockPanel, StockPolicy, simulate_stock, supply_fill

__all__ = [
    "DEMAND", "ChannelData", "Summary", "generate_channel_data", "summarize", "write_channel_data",
]

DEMAND = "demand"
"""True (uncensored) demand column of `ChannelData.truth`; not part of the contract."""
EXPECTED_DEMAND = "expected_demand"
_PERIOD_DAYS = {"W": 7, "D": 1}
_FORMATS = ("csv", "parquet")
_MAX_CELLS = 100_000_000


@dataclass(frozen=True)
class ChannelData:
    """Generated contract tables plus the ground truth behind them.

    Attributes:
        sell_through: one row per (date, node_id, sku) in each series' selling window.
        nodes: regions, distributors and the selling nodes.
        inventory: stock per node and item at the end of the last period.
        central_stock: units available centrally per item, with pack sizes.
        truth: the uncensored `demand` and its mean `expected_demand`, keyed like
            `sell_through` (not part of the contract).
        items: item attributes behind the data (category, launch = first selling period,
            discontinued = first period without sales, list price, elasticity, pack size);
            not part of the contract.
        freq: "W" or "D".

    `sell_through` and `truth` share their date and id columns (no copy); copy a frame
    before changing those columns in place.
    """

    sell_through: pd.DataFrame
    nodes: pd.DataFrame
    inventory: pd.DataFrame
    central_stock: pd.DataFrame
    truth: pd.DataFrame
    items: pd.DataFrame
    freq: str


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"`{name}` must be an integer; got {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be >= 1; got {value}.")
    return int(value)


def _check_args(nodes: int, skus: int, periods: int, freq: str, seed: int, start: str
                ) -> pd.Timestamp:
    sizes = [_check_count(k, v) for k, v in (("nodes", nodes), ("skus", skus),
                                             ("periods", periods))]
    if freq not in _PERIOD_DAYS:
        raise ValueError(f"`freq` must be one of {sorted(_PERIOD_DAYS)}; got {freq!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0; got {seed!r}.")
    cells = sizes[0] * sizes[1] * sizes[2]
    if cells > _MAX_CELLS:
        raise ValueError(f"`nodes` x `skus` x `periods` = {cells:,} cells is more than "
                         f"{_MAX_CELLS:,}; generate fewer nodes, skus or periods.")
    try:
        first = pd.Timestamp(start)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`start` must be an ISO date like 2023-01-02; got {start!r}.") from err
    if pd.isna(first) or first != first.normalize():
        raise ValueError(f"`start` must be an ISO date like 2023-01-02; got {start!r}.")
    return first


def _key_columns(node_ids: npt.NDArray[np.str_], skus: npt.NDArray[np.str_],
                 node: npt.NDArray[np.integer], item: npt.NDArray[np.integer]
                 ) -> tuple[pd.Series, pd.Series]:
    """String id columns, built through Arrow dictionaries because that is fast."""
    def column(codes: npt.NDArray[np.integer], names: npt.NDArray[np.str_]) -> pd.Series:
        arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                             pa.array(names.tolist(), pa.string()))
        return pd.Series(arr.cast(pa.string()).to_pandas(), copy=False)
    return column(node, node_ids), column(item, skus)


def generate_channel_data(*, nodes: int, skus: int, periods: int, freq: str = GENERATOR.freq,
                          seed: int = GENERATOR.seed, start: str = GENERATOR.start
                          ) -> ChannelData:
    """Generate a channel's sell-through, nodes, inventory and central stock.

    Args:
        nodes: number of selling nodes (dealers, own retail stores, e-commerce shops);
            regions and distributors are added on top.
        skus: number of items; every selling node carries every item in its selling window.
        periods: number of periods of history.
        freq: "W" (weekly, periods start on the weekday of `start`) or "D" (daily).
        seed: seed of the random generator; the same seed gives the same data.
        start: ISO date of the first period.

    Returns:
        The contract tables plus the uncensored truth.

    Raises:
        ValueError: if an argument is out of range; the message names it.
    """
    first = _check_args(nodes, skus, periods, freq, seed, start)
    rng = np.random.default_rng(seed)
    calendar = build_calendar(first, periods, _PERIOD_DAYS[freq])
    network = build_network(rng, nodes)
    catalog = build_catalog(rng, skus, calendar)
    campaigns = build_campaigns(rng, catalog, calendar)
    panel = simulate_demand(rng, network, catalog, calendar, campaigns)

    node_of = np.repeat(np.arange(nodes), skus)
    item_of = np.tile(np.arange(skus), nodes)
    policy = _stock_policy(network, catalog, calendar, node_of, item_of)
    fill = supply_fill(rng, skus, periods, calendar.period_days)
    stock = simulate_stock(rng, panel, policy, fill, nodes)

    sell_through, truth = _history(panel, stock, network, catalog, campaigns, calendar)

    node_table = network.nodes.copy()
    capacity = np.ceil(1.25 * stock.node_peak / 50).astype(np.int64) * 50
    n_aggregation = len(node_table) - nodes
    node_table[CAPACITY] = _optional_int(np.concatenate(
        [np.full(n_aggregation, -1), np.where(network.has_capacity, capacity, -1)]))

    return ChannelData(
        sell_through=sell_through,
        nodes=node_table,
        inventory=_inventory(rng, network, catalog, panel, stock, calendar, node_of, item_of),
        central_stock=_central_stock(rng, catalog, panel, calendar),
        truth=truth,
        items=_items(catalog, calendar, periods),
        freq=freq,
    )


def _stock_policy(network: Network, catalog: Catalog, calendar: Calendar,
                  node_of: npt.NDArray[np.int64], item_of: npt.NDArray[np.int64]) -> StockPolicy:
    """Each series' replenishment: lead time and review cycle in periods, pack, safety."""
    lead = np.maximum(1, np.ceil(network.lead_days / calendar.period_days)).astype(np.int64)
    review = np.maximum(1, np.round(network.review_days / calendar.period_days)).astype(np.int64)
    offset = (network.review_offset // calendar.period_days) % review
    return StockPolicy(lead=lead[node_of], review=review[node_of], offset=offset[node_of],
                       pack=catalog.pack_size[item_of], safety_z=network.safety_z[node_of],
                       item=item_of)


def _items(catalog: Catalog, calendar: Calendar, periods: int) -> pd.DataFrame:
    """The item facts behind the data (category, launch, end, list price, elasticity, pack)."""
    return pd.DataFrame({
        ITEM: catalog.skus,
        "category": [f"CAT-{c + 1:02d}" for c in catalog.category],
        "launch": calendar.dates[catalog.launch],
        "discontinued": pd.DatetimeIndex([calendar.dates[e] if e < periods else pd.NaT
                                          for e in catalog.end]),
        "list_price": catalog.list_price[:, 0],
        "elasticity": catalog.elasticity,
        PACK_SIZE: catalog.pack_size,
    })


def _history(panel: DemandPanel, stock: StockPanel, network: Network, catalog: Catalog,
             campaigns: Campaigns, calendar: Calendar) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`sell_through` and `truth`: every series over its selling window, series-major, so
    rows come sorted by (node_id, sku, date)."""
    periods, n_items = calendar.periods, len(catalog.skus)
    length = (panel.end - panel.start).astype(np.int32)
    series = np.repeat(np.arange(length.size, dtype=np.int32), length)
    t = np.arange(series.size, dtype=np.int32)
    t -= np.repeat((np.cumsum(length) - length).astype(np.int32), length)
    t += panel.start.astype(np.int32)[series]
    cell = series * np.int32(periods) + t  # < 100M cells, so int32 is enough
    node, item = series // np.int32(n_items), series % np.int32(n_items)
    del series
    node_col, sku_col = _key_columns(network.selling_ids, catalog.skus, node, item)
    promo = panel.promo.reshape(-1)[cell]
    price = campaigns.discount[item, np.maximum(campaigns.index[item, t], 0)]
    price *= promo
    np.subtract(1.0, price, out=price)  # 1 - discount in promo periods, else 1
    price *= catalog.list_price[item, t]
    price *= network.price_factor[node]
    del node, item
    price = np.round(np.where(price >= 5, np.round(price) - 0.01, price), 2)
    dates = pd.Series(calendar.dates[t], copy=False)
    del t
    keys = {DATE: dates, NODE: node_col, ITEM: sku_col}
    sell_through = pd.DataFrame({
        **keys,
        UNITS: stock.units.reshape(-1)[cell],
        PRICE: price,
        PROMO: promo.astype(np.int8),
        ON_HAND: stock.on_hand.reshape(-1)[cell],
        SELL_IN: stock.sell_in.reshape(-1)[cell],
    }, copy=False)
    truth = pd.DataFrame({
        **keys,
        DEMAND: panel.demand.reshape(-1)[cell],
        EXPECTED_DEMAND: panel.expected.reshape(-1)[cell],
    }, copy=False)
    return sell_through, truth


def _optional_int(values: npt.NDArray[np.int64]) -> pd.arrays.IntegerArray:
    """A nullable integer column: negative values become empty cells."""
    values = np.asarray(values, dtype=np.int64)
    return pd.arrays.IntegerArray(np.maximum(values, 0), values < 0)


def _inventory(rng: np.random.Generator, network: Network, catalog: Catalog, panel: DemandPanel,
               stock: StockPanel, calendar: Calendar, node_of: npt.NDArray[np.int64],
               item_of: npt.NDArray[np.int64]) -> pd.DataFrame:
    """Stock per (node, item) selling in the last period, with optional allocation limits."""
    periods = calendar.periods
    live = np.flatnonzero((panel.start < periods) & (panel.end == periods))
    node, item = node_of[live], item_of[live]
    node_col, sku_col = _key_columns(network.selling_ids, catalog.skus, node, item)
    pack = catalog.pack_size[item]
    minimum = np.where(rng.random(live.size) < np.where(network.channel[node] == "dealer", 0.2,
                                                        0.5),
                       pack * rng.integers(1, 3, live.size), -1)
    maximum = np.ceil(stock.order_up_to[live] * rng.uniform(1.5, 3.0, live.size) / pack) * pack
    maximum = np.where(rng.random(live.size) < 0.6, np.maximum(maximum, minimum), -1)
    as_of = calendar.dates[-1] + pd.Timedelta(days=calendar.period_days - 1)
    return pd.DataFrame({
        NODE: node_col, ITEM: sku_col,
        ON_HAND: stock.on_hand[live, -1].astype(np.int64),
        IN_TRANSIT: stock.in_transit[live],
        AS_OF: pd.Series(as_of, index=range(live.size)),
        MIN_QTY: _optional_int(minimum),
        MAX_QTY: _optional_int(maximum),
    })


def _central_stock(rng: np.random.Generator, catalog: Catalog, panel: DemandPanel,
                   calendar: Calendar) -> pd.DataFrame:
    """Central units per item: about a month of recent network demand, scarce for some."""
    skus = len(catalog.skus)
    recent = panel.expected[:, -calendar.span(28):].mean(axis=1).reshape(-1, skus).sum(axis=0)
    month = recent * calendar.span(28) * np.exp(rng.normal(0.0, 0.6, skus))
    month[catalog.end < calendar.periods] = 0.0
    available = np.floor(month / catalog.pack_size) * catalog.pack_size
    return pd.DataFrame({ITEM: catalog.skus, AVAILABLE: available.astype(np.int64),
                         PACK_SIZE: catalog.pack_size})


class Summary(TypedDict):
    """Headline numbers of generated data (see `summarize`)."""

    rows: int
    series: int
    periods: int
    nodes_by_channel: dict[str, int]
    zero_share: float
    stockout_share: float
    promo_share: float
    lost_share: float


def summarize(data: ChannelData) -> Summary:
    """Headline numbers of generated data: sizes, nodes by channel and the realism shares."""
    sell = data.sell_through
    units = sell[UNITS].to_numpy()
    by_channel = data.nodes[CHANNEL].value_counts()
    return {
        "rows": len(sell),
        "series": int(sell[[NODE, ITEM]].drop_duplicates().shape[0]),
        "periods": int(sell[DATE].nunique()),
        "nodes_by_channel": {str(name): int(n) for name, n in by_channel.items()},
        "zero_share": float((units == 0).mean()),
        "stockout_share": float((sell[ON_HAND].to_numpy() == 0).mean()),
        "promo_share": float(sell[PROMO].to_numpy().mean()),
        "lost_share": float(1 - units.sum() / max(data.truth[DEMAND].sum(), 1)),
    }


def _table(frame: pd.DataFrame, *, dates_as_days: bool) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if dates_as_days:
        for i, field in enumerate(table.schema):
            if pa.types.is_timestamp(field.type):
                table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
    return table.replace_schema_metadata(None) if dates_as_days else table


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # unquoted values: pyarrow refuses (rather than corrupts) a value holding a comma or quote
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as sink:
        sink.write((",".join(frame.columns) + "\n").encode())
        pa_csv.write_csv(_table(frame, dates_as_days=True), sink, write_options=options)


def write_channel_data(data: ChannelData, out: Path, *, fmt: str = "csv") -> list[Path]:
    """Write the tables into folder `out` (created if missing) and return the paths written.

    `sell_through` is written as CSV or Parquet (`fmt`); a `sell_through` file of the other
    format left in `out` by an earlier run is removed so that the folder holds one history.
    `nodes`, `inventory` and `central_stock` are CSV; `truth.parquet` and
    `truth_items.parquet` hold the ground truth, which the contract loader ignores.
    """
    if fmt not in _FORMATS:
        raise ValueError(f"`fmt` must be one of {list(_FORMATS)}; got {fmt!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sell_path = out / f"sell_through.{fmt}"
    stale = out / f"sell_through.{'parquet' if fmt == 'csv' else 'csv'}"
    stale.unlink(missing_ok=True)
    if fmt == "csv":
        _write_csv(data.sell_through, sell_path)
    else:
        pq.write_table(_table(data.sell_through, dates_as_days=False), sell_path)
    paths = [sell_path]
    for name in ("nodes", "inventory", "central_stock"):
        paths.append(out / f"{name}.csv")
        _write_csv(getattr(data, name), paths[-1])
    for name, frame in (("truth", data.truth), ("truth_items", data.items)):
        paths.append(out / f"{name}.parquet")
        pq.write_table(_table(frame, dates_as_days=False), paths[-1])
    return paths
