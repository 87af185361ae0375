"""Column names and table specs of the data contract: the files of a data folder and their columns.

Every frame that crosses a package boundary uses these names. The specs here are the single
source of truth for what the loader and validator accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AS_OF",
    "AVAILABLE",
    "CAPACITY",
    "CENSORED",
    "CHANNEL",
    "CHANNELS",
    "COLUMN_ALIASES",
    "DATE",
    "FREQS",
    "GROUP",
    "IN_TRANSIT",
    "ITEM",
    "LEAD_TIME",
    "MAX_QTY",
    "MIN_QTY",
    "NODE",
    "ON_HAND",
    "PACK_SIZE",
    "PARENT",
    "PRICE",
    "PRIORITY",
    "PROMO",
    "REVIEW_PERIOD",
    "SELL_IN",
    "SERIES_KEY",
    "TABLES",
    "UNITS",
    "ColumnSpec",
    "TableSpec",
]

# --- key columns -------------------------------------------------------------------------
DATE, NODE, ITEM, UNITS = "date", "node_id", "sku", "units"
SERIES_KEY = [NODE, ITEM]

# --- sell_through optional columns ---------------------------------------------------------
PRICE, PROMO, ON_HAND, SELL_IN = "price", "promo", "on_hand", "sell_in"

# --- nodes ---------------------------------------------------------------------------------
PARENT, CHANNEL = "parent_id", "channel"
GROUP = "group"  # items.csv: the sku group the hierarchy adds up to
LEAD_TIME, REVIEW_PERIOD, PRIORITY, CAPACITY = (
    "lead_time_days",
    "review_period_days",
    "priority",
    "capacity",
)
CHANNELS = ("region", "distributor", "dealer", "agent", "direct", "retail", "ecommerce")

# --- inventory / central stock ---------------------------------------------------------------
IN_TRANSIT, AS_OF, MIN_QTY, MAX_QTY = "in_transit", "as_of", "min_qty", "max_qty"
AVAILABLE, PACK_SIZE = "available", "pack_size"

# --- derived -------------------------------------------------------------------------------
CENSORED = "censored"  # period whose demand is unknown (stock-out), not zero

FREQS = ("W", "D", "M")
"""Supported frequencies: weekly (anchored on one weekday), daily, monthly (first of month)."""

Kind = Literal["date", "str", "float", "int", "flag"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    Attributes:
        name: column name in the file.
        kind: how the value parses: ISO date, string id, number, integer, or 0/1 flag.
        required: whether the column must be present.
        nullable: whether an empty cell is allowed (only for columns that may be blank).
        min_value: smallest allowed value for numbers (inclusive), or None.
        hint: what to do when a value is refused; shown to the user.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    min_value: float | None = None
    hint: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A contract table: its file stem, columns and unique key."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    required: bool = True

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table `{self.name}` has no column `{name}`")


_NONNEG = "values must be >= 0"

SELL_THROUGH = TableSpec(
    name="sell_through",
    key=(DATE, NODE, ITEM),
    columns=(
        ColumnSpec(DATE, "date", hint="use ISO dates (YYYY-MM-DD) on the period start"),
        ColumnSpec(NODE, "str", hint="every row needs the selling node's id"),
        ColumnSpec(ITEM, "str", hint="every row needs the item's sku"),
        ColumnSpec(
            UNITS,
            "float",
            min_value=0,
            hint="sell-through cannot be negative (returns belong in a separate column)",
        ),
        ColumnSpec(PRICE, "float", required=False, nullable=True, min_value=0,
                   hint="prices are >= 0; leave the cell empty when unknown"),
        ColumnSpec(PROMO, "flag", required=False, nullable=True,
                   hint="promo is 1 in promotion periods and 0 otherwise"),
        ColumnSpec(ON_HAND, "float", required=False, nullable=True, min_value=0,
                   hint="end-of-period stock is >= 0; leave the cell empty when unknown"),
        ColumnSpec(SELL_IN, "float", required=False, nullable=True, min_value=0,
                   hint="units shipped into the node are >= 0"),
    ),
)

NODES = TableSpec(
    name="nodes",
    key=(NODE,),
    columns=(
        ColumnSpec(NODE, "str", hint="every node needs an id"),
        ColumnSpec(PARENT, "str", nullable=True,
                   hint="parent_id must be the node_id of another row, or empty for a root"),
        ColumnSpec(CHANNEL, "str", hint=f"name the channel, e.g. one of {', '.join(CHANNELS)}"),
        ColumnSpec(LEAD_TIME, "int", min_value=0, hint="lead time is whole days >= 0"),
        ColumnSpec(REVIEW_PERIOD, "int", min_value=1, hint="review period is whole days >= 1"),
        ColumnSpec(PRIORITY, "int", min_value=1, hint="priority is an integer, 1 = served first"),
        ColumnSpec(CAPACITY, "float", required=False, nullable=True, min_value=0,
                   hint="capacity is units >= 0; leave empty for no limit"),
    ),
)

INVENTORY = TableSpec(
    name="inventory",
    key=(NODE, ITEM),
    required=False,
    columns=(
        ColumnSpec(NODE, "str", hint="every row needs a node_id listed in nodes"),
        ColumnSpec(ITEM, "str", hint="every row needs a sku"),
        ColumnSpec(ON_HAND, "float", min_value=0, hint="on-hand stock is >= 0"),
        ColumnSpec(IN_TRANSIT, "float", min_value=0, hint="in-transit stock is >= 0"),
        ColumnSpec(AS_OF, "date", hint="use an ISO date (YYYY-MM-DD) for the snapshot date"),
        ColumnSpec(MIN_QTY, "float", required=False, nullable=True, min_value=0,
                   hint="min_qty is >= 0; leave empty for none"),
        ColumnSpec(MAX_QTY, "float", required=False, nullable=True, min_value=0,
                   hint="max_qty is >= 0 and >= min_qty; leave empty for none"),
    ),
)

def _per_sku_table(name: str, *columns: ColumnSpec) -> TableSpec:
    """An optional table with one row per sku: `sku`, then `columns`."""
    return TableSpec(name=name, key=(ITEM,), required=False,
                     columns=(ColumnSpec(ITEM, "str", hint="every row needs a sku"), *columns))


CENTRAL_STOCK = _per_sku_table(
    "central_stock",
    ColumnSpec(AVAILABLE, "float", min_value=0, hint="available stock is >= 0"),
    ColumnSpec(PACK_SIZE, "int", required=False, nullable=True, min_value=1,
               hint="pack size is a whole number >= 1; leave empty for single units"),
)

ITEMS = _per_sku_table(
    "items",
    ColumnSpec(GROUP, "str", hint="give every sku its group (e.g. its category), or leave "
               "the sku out of items"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (SELL_THROUGH, NODES, INVENTORY, CENTRAL_STOCK, ITEMS)
}

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    DATE: ("week", "period", "day", "week_start", "period_start", "ds"),
    NODE: ("store", "store_id", "dealer", "dealer_id", "location", "location_id", "node",
           "shop", "shop_id", "branch", "outlet", "outlet_id"),
    ITEM: ("item", "item_id", "product", "product_id", "sku_id", "article", "part_number"),
    UNITS: ("qty", "quantity", "sales", "units_sold", "sold", "unit_sales", "sales_units",
            "sales_qty", "volume"),
    PRICE: ("unit_price", "sell_price", "selling_price"),
    PROMO: ("promotion", "on_promo", "promo_flag"),
    ON_HAND: ("stock", "inventory", "onhand", "stock_on_hand", "soh", "closing_stock"),
    SELL_IN: ("sellin", "shipments", "shipped", "shipped_units", "deliveries"),
    PARENT: ("parent", "parent_node", "parent_node_id"),
    CHANNEL: ("channel_type", "node_type", "type"),
    LEAD_TIME: ("lead_time", "leadtime", "lead_days"),
    REVIEW_PERIOD: ("review_period", "review_days", "order_cycle_days"),
    PRIORITY: ("prio", "rank"),
    IN_TRANSIT: ("intransit", "transit", "on_order", "in_transit_qty"),
    AS_OF: ("date", "snapshot_date", "asof", "as_of_date"),
    MIN_QTY: ("min", "minimum", "min_stock"),
    MAX_QTY: ("max", "maximum", "max_stock"),
    AVAILABLE: ("stock", "qty", "quantity", "on_hand", "available_qty"),
    PACK_SIZE: ("pack", "case_size", "pack_qty"),
}
"""Names people give contract columns, per contract column (lower case, `_` for spaces).

`features.contract.validation` matches a file's columns against these, case-insensitively, to say
"rename it to `units`" when a contract column is missing. This is the only such table.
"""
