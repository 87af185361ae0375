"""The synthetic channel generator: determinism, the data contract, and the realism it claims."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd
import pytest

from channelcast import cmd_generate
from features.schema import (
    AS_OF,
    AVAILABLE,
    CHANNEL,
    DATE,
    ITEM,
    MAX_QTY,
    MIN_QTY,
    NODE,
    ON_HAND,
    PACK_SIZE,
    PARENT,
    PRICE,
    PROMO,
    SELL_IN,
    SERIES_KEY,
    TABLES,
    UNITS,
)
from features.synthetic import DEMAND, ChannelData, generate_channel_data, write_channel_data


class Size(TypedDict):
    """The generator's size arguments."""

    nodes: int
    skus: int
    periods: int


SIZE: Size = {"nodes": 30, "skus": 60, "periods": 156}


@pytest.fixture(scope="module")
def data() -> ChannelData:
    return generate_channel_data(**SIZE, freq="W", seed=11)


@pytest.fixture(scope="module")
def history(data: ChannelData) -> pd.DataFrame:
    """Sell-through with the true demand, the node's channel and the period number."""
    frame = data.sell_through.assign(**{DEMAND: data.truth[DEMAND].to_numpy()})
    frame = frame.merge(data.nodes[[NODE, CHANNEL]], on=NODE, how="left", validate="m:1")
    dates = np.sort(frame[DATE].unique())
    return frame.assign(period=np.searchsorted(dates, frame[DATE].to_numpy()))


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- determinism -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_writes_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    for run in ("a", "b"):
        write_channel_data(generate_channel_data(nodes=6, skus=8, periods=40, seed=5),
                           tmp_path / run, fmt=fmt)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert len(_digests(tmp_path / "a")) == 6


def test_other_seed_gives_other_data() -> None:
    a = generate_channel_data(nodes=6, skus=8, periods=40, seed=5).sell_through
    b = generate_channel_data(nodes=6, skus=8, periods=40, seed=6).sell_through
    assert not a.equals(b)


# --- the data contract --------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["sell_through", "nodes", "inventory", "central_stock"])
def test_tables_follow_the_contract_spec(data: ChannelData, table: str) -> None:
    frame, spec = getattr(data, table), TABLES[table]
    assert set(spec.required_columns) <= set(frame.columns)
    assert not frame.duplicated(list(spec.key)).any()
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        values = frame[column.name]
        if not column.nullable:
            assert values.notna().all(), column.name
        if column.min_value is not None:
            assert (values.dropna() >= column.min_value).all(), column.name
        if column.kind in ("int", "flag"):
            assert (values.dropna() % 1 == 0).all(), column.name


def test_sell_through_has_all_optional_columns_and_integer_units(data: ChannelData) -> None:
    sell = data.sell_through
    assert list(sell.columns) == [DATE, NODE, ITEM, UNITS, PRICE, PROMO, ON_HAND, SELL_IN]
    for column in (UNITS, ON_HAND, SELL_IN):
        assert pd.api.types.is_integer_dtype(sell[column]) and (sell[column] >= 0).all()
    assert set(sell[PROMO].unique()) == {0, 1}
    assert (sell[PRICE] > 0).all()


def test_hierarchy_parents_exist_and_have_no_cycles(data: ChannelData) -> None:
    nodes = data.nodes
    parent = dict(zip(nodes[NODE], nodes[PARENT], strict=True))
    assert nodes[PARENT].dropna().isin(nodes[NODE]).all()
    for node in parent:
        seen = {node}
        while isinstance(parent[node], str):
            node = parent[node]
            assert node not in seen, f"cycle through {node}"
            seen.add(node)
    selling = nodes.loc[nodes[CHANNEL].isin(["dealer", "retail", "ecommerce"]), NODE]
    assert len(selling) == SIZE["nodes"]
    assert set(data.sell_through[NODE].unique()) == set(selling)
    kinds = dict(zip(nodes[NODE], nodes[CHANNEL], strict=True))
    dealer_parents = {kinds[parent[n]] for n in selling if kinds[n] == "dealer"}
    assert dealer_parents == {"distributor"}


def test_weekly_dates_share_the_start_weekday() -> None:
    sell = generate_channel_data(nodes=4, skus=5, periods=30, seed=2,
                                 start="2023-01-04").sell_through
    dates = pd.DatetimeIndex(sell[DATE].unique()).sort_values()
    assert set(dates.day_of_week) == {2}  # Wednesday, the weekday of `start`
    assert dates[0] == pd.Timestamp("2023-01-04") and len(dates) == 30
    assert ((dates[1:] - dates[:-1]) == pd.Timedelta(days=7)).all()


def test_daily_data_has_every_day_and_a_weekday_pattern() -> None:
    data = generate_channel_data(nodes=10, skus=20, periods=364, freq="D", seed=4)
    dates = pd.DatetimeIndex(data.sell_through[DATE].unique()).sort_values()
    assert len(dates) == 364 and ((dates[1:] - dates[:-1]) == pd.Timedelta(days=1)).all()
    by_day = data.truth.groupby(data.truth[DATE].dt.day_of_week)[DEMAND].mean()
    assert by_day.loc[6] < 0.8 * by_day.loc[:5].mean()  # dealers are closed on Sundays


def test_files_round_trip_through_pandas(tmp_path: Path, data: ChannelData) -> None:
    paths = write_channel_data(data, tmp_path, fmt="csv")
    assert [p.name for p in paths] == ["sell_through.csv", "nodes.csv", "inventory.csv",
                                       "central_stock.csv", "truth.parquet",
                                       "truth_items.parquet"]
    sell = pd.read_csv(tmp_path / "sell_through.csv")
    assert sell.shape == data.sell_through.shape
    assert sell[DATE].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    nodes = pd.read_csv(tmp_path / "nodes.csv")
    assert nodes[PARENT].isna().sum() == data.nodes[PARENT].isna().sum()
    write_channel_data(data, tmp_path, fmt="parquet")
    assert not (tmp_path / "sell_through.csv").exists()  # one history per folder
    back = pd.read_parquet(tmp_path / "sell_through.parquet")
    pd.testing.assert_frame_equal(back, data.sell_through, check_dtype=False)


def test_inventory_matches_the_last_period(data: ChannelData) -> None:
    sell, inventory = data.sell_through, data.inventory
    last = sell[sell[DATE] == sell[DATE].max()]
    merged = inventory.merge(last, on=SERIES_KEY, suffixes=("", "_sell"), validate="1:1")
    assert len(merged) == len(inventory) == len(last)
    assert (merged[ON_HAND] == merged[f"{ON_HAND}_sell"]).all()
    assert inventory[AS_OF].nunique() == 1
    both = inventory[MIN_QTY].notna() & inventory[MAX_QTY].notna()
    assert both.any() and (inventory.loc[both, MIN_QTY] <= inventory.loc[both, MAX_QTY]).all()
    assert inventory[MIN_QTY].isna().any() and inventory[MAX_QTY].isna().any()


def test_central_stock_comes_in_whole_packs(data: ChannelData) -> None:
    central = data.central_stock
    assert set(central[ITEM]) == set(data.sell_through[ITEM])
    assert set(central[PACK_SIZE]) <= {1, 6, 12, 24} and len(set(central[PACK_SIZE])) > 1
    assert (central[AVAILABLE] % central[PACK_SIZE] == 0).all()


def test_stock_flows_add_up(history: pd.DataFrame) -> None:
    """on_hand(t) = on_hand(t-1) + sell_in(t) - units(t) inside every series."""
    previous = history.groupby(SERIES_KEY, sort=False)[ON_HAND].shift()
    inside = previous.notna()
    balance = previous[inside] + history.loc[inside, SELL_IN] - history.loc[inside, UNITS]
    assert (balance == history.loc[inside, ON_HAND]).all()


# --- realism ------------------------------------------------------------------------------------

def test_stockouts_censor_demand(history: pd.DataFrame) -> None:
    out = history[ON_HAND] == 0
    assert 0.01 <= out.mean() <= 0.08
    assert (history.loc[~out, UNITS] == history.loc[~out, DEMAND]).all()
    assert (history.loc[out, UNITS] <= history.loc[out, DEMAND]).all()
    assert (history.loc[out, UNITS] < history.loc[out, DEMAND]).sum() > 0.2 * out.sum()


def test_promotions_lift_units_within_series(history: pd.DataFrame) -> None:
    means = history.groupby([*SERIES_KEY, PROMO])[UNITS].mean().unstack().dropna()
    assert len(means) > 100
    assert (means[1] > means[0]).mean() > 0.6
    assert means[1].sum() > 1.5 * means[0].sum()


def test_promotions_are_followed_by_a_dip(history: pd.DataFrame, data: ChannelData) -> None:
    expected = data.truth["expected_demand"].to_numpy()
    frame = history.assign(expected=expected)
    grouped = frame.groupby(SERIES_KEY, sort=False)
    ended = (grouped[PROMO].shift(1) == 1) & (frame[PROMO] == 0)  # first period after a promo
    later = grouped["expected"].shift(-3)  # three periods on, the dip is over
    clean = ended & later.notna() & (grouped[PROMO].shift(-3) == 0)
    assert clean.sum() > 50
    assert frame.loc[clean, "expected"].sum() < 0.9 * later[clean].sum()


def test_promo_prices_are_discounted(history: pd.DataFrame) -> None:
    regular = history[history[PROMO] == 0].groupby(SERIES_KEY)[PRICE].median().rename("regular")
    promo = history[history[PROMO] == 1].join(regular, on=SERIES_KEY)
    assert (promo[PRICE] < promo["regular"]).mean() > 0.9


def test_list_prices_change_sometimes(history: pd.DataFrame) -> None:
    regular = history[history[PROMO] == 0]
    levels = regular.groupby(SERIES_KEY)[PRICE].nunique()
    assert 0.1 < (levels > 1).mean() < 0.9


def test_long_tail_is_intermittent_and_overdispersed(history: pd.DataFrame,
                                                     data: ChannelData) -> None:
    zeros = (history[UNITS] == 0).groupby([history[NODE], history[ITEM]]).mean()
    assert (zeros > 0.5).mean() > 0.2
    assert (zeros < 0.1).mean() > 0.05
    expected = data.truth["expected_demand"].to_numpy()
    busy = expected > 2
    excess = (data.truth[DEMAND].to_numpy()[busy] - expected[busy]) ** 2
    assert excess.mean() > 1.5 * expected[busy].mean()  # variance well above Poisson's


def test_channel_volumes_differ(history: pd.DataFrame) -> None:
    per_node = history.groupby([CHANNEL, NODE])[UNITS].mean().groupby(level=0).median()
    assert per_node["ecommerce"] > 3 * per_node["dealer"]
    assert per_node["retail"] > 2 * per_node["dealer"]
    spread = history.groupby([CHANNEL, NODE])[UNITS].mean().loc["dealer"]
    assert spread.max() > 3 * spread.min()  # lognormal spread within a channel


def test_launches_start_late_and_ramp_up(history: pd.DataFrame, data: ChannelData) -> None:
    items = data.items.set_index(ITEM)
    first = history.groupby(SERIES_KEY)[DATE].min().reset_index()
    first = first.join(items[["launch", "discontinued"]], on=ITEM)
    assert (first[DATE] >= first["launch"]).all()
    late = first[first["launch"] > history[DATE].min()]
    assert late[ITEM].nunique() >= 3
    last = history.groupby(SERIES_KEY)[DATE].max().reset_index().join(items, on=ITEM)
    stopped = last["discontinued"].notna()
    assert stopped.any() and (last.loc[stopped, DATE] < last.loc[stopped, "discontinued"]).all()
    expected = history.assign(expected=data.truth["expected_demand"].to_numpy())
    launched = expected[expected[ITEM].isin(late[ITEM])]
    age = launched.groupby(SERIES_KEY).cumcount()
    assert launched.loc[age < 2, "expected"].mean() < 0.7 * launched.loc[
        (age >= 10) & (age < 20), "expected"].mean()


def test_holiday_weeks_peak(data: ChannelData) -> None:
    weekly = data.truth.groupby(DATE)[DEMAND].sum()
    dates = weekly.index
    holiday = ((dates.month == 11) & (dates.day >= 20)) | ((dates.month == 12) & (dates.day <= 24))
    assert holiday.sum() >= 9
    assert weekly[holiday].mean() > 1.15 * weekly.mean()


def test_category_seasonality_differs(data: ChannelData) -> None:
    truth = data.truth.merge(data.items[[ITEM, "category"]], on=ITEM)
    monthly = truth.groupby(["category", truth[DATE].dt.month])[DEMAND].sum().unstack()
    shape = monthly.div(monthly.mean(axis=1), axis=0)
    assert len(shape) >= 2
    peaks = shape.idxmax(axis=1)
    assert peaks.nunique() > 1 or (shape.max(axis=1) - shape.min(axis=1)).std() > 0.1


# --- arguments and the command ----------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "name"), [
    ({"nodes": 0}, "`nodes`"), ({"skus": -1}, "`skus`"), ({"periods": 2.5}, "`periods`"),
    ({"freq": "M"}, "`freq`"), ({"seed": -3}, "`seed`"), ({"start": "2023-02-30"}, "`start`"),
    ({"nodes": 10_000, "skus": 10_000}, "cells"),
])
def test_bad_arguments_name_the_parameter(kwargs: dict[str, object], name: str) -> None:
    args = {"nodes": 3, "skus": 3, "periods": 10, **kwargs}
    with pytest.raises(ValueError, match=name):
        generate_channel_data(**args)  # type: ignore[arg-type]


def test_bad_format_names_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`fmt`"):
        write_channel_data(generate_channel_data(nodes=2, skus=2, periods=4), tmp_path, fmt="xls")


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="channelcast")
    cmd_generate.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_command_writes_folder_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    argv = ["generate", "--out", str(tmp_path), "--nodes", "5", "--skus", "6", "--periods",
            "30", "--seed", "1", "--format", "parquet"]
    assert _run(argv) == 0
    printed = capsys.readouterr().out
    for word in ("rows", "series", "dealer", "zero share", "stock-out share", "promo share",
                 str(tmp_path), " s"):
        assert word in printed
    assert (tmp_path / "sell_through.parquet").exists() and (tmp_path / "nodes.csv").exists()


def test_command_exits_2_on_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert _run(["generate", "--out", str(tmp_path), "--nodes", "0"]) == 2
    assert "`nodes` must be >= 1; got 0." in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        _run(["generate", "--out", str(tmp_path), "--freq", "M"])
    assert exit_info.value.code == 2
