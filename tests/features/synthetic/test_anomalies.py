"""Injected anomalies: every kind labelled, the stock balance kept, the generator's flag."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from channelcast.cli import main
from features.synthetic import generate_channel_data
from features.synthetic.anomalies import (
    LABEL_COLUMNS,
    InjectionPlan,
    inject_anomalies,
    order_up_to_flow,
)

KINDS = {"demand_drop", "demand_spike", "channel_stuffing", "stock_mismatch", "reporting_gap"}


def _balance_breaks(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["node_id", "sku", "date"])
    prev = frame.groupby(["node_id", "sku"])["on_hand"].shift(1)
    gap = frame.groupby(["node_id", "sku"])["date"].diff() == pd.Timedelta(weeks=1)
    diff = frame["on_hand"] - (prev + frame["sell_in"] - frame["units"])
    return frame[gap & (diff.abs() > 1e-9)]


def test_order_up_to_flow_balances_and_never_runs_out() -> None:
    units = np.random.default_rng(0).poisson(20, (5, 60)).astype(float)
    units[0, 30] = 400
    sell_in, on_hand = order_up_to_flow(units, cover=3.0)
    stock = np.concatenate([np.zeros((5, 1)), on_hand[:, :-1]], axis=1)
    assert np.allclose(on_hand, stock + sell_in - units)
    assert (on_hand > 0).all()


def test_every_kind_is_injected_labelled_and_only_breaks_break_the_balance() -> None:
    data = generate_channel_data(nodes=12, skus=15, periods=90, seed=4)
    before = _balance_breaks(data.sell_through)
    plan = InjectionPlan(window=40, drops=2, spikes=2, mismatches=2, stuffed_nodes=1,
                         silent_nodes=1, min_units=1.0)
    injected, labels = inject_anomalies(data.sell_through, seed=1, plan=plan)
    assert tuple(labels.columns) == LABEL_COLUMNS and set(labels["kind"]) == KINDS
    assert (labels["onset"] >= np.sort(data.sell_through["date"].unique())[-40]).all()
    after = _balance_breaks(injected)
    breaks = labels[labels["kind"] == "stock_mismatch"]
    assert len(after) == len(before) + len(breaks)
    assert {"+", "-"} >= {("+" if m > 0 else "-") for m in breaks["magnitude"]}
    gap = labels[labels["kind"] == "reporting_gap"].iloc[0]
    silent = injected[(injected["node_id"] == gap["node_id"])
                      & injected["date"].between(gap["onset"], gap["end"])]
    assert silent.empty
    spike = labels[labels["kind"] == "demand_spike"].iloc[0]
    row = (data.sell_through["node_id"] == spike["node_id"]) & (
        data.sell_through["sku"] == spike["sku"]) & (data.sell_through["date"] == spike["onset"])
    new = injected.set_index(["node_id", "sku", "date"]).loc[
        (spike["node_id"], spike["sku"], spike["onset"]), "units"]
    assert new == np.round(data.sell_through.loc[row, "units"].iloc[0] * spike["magnitude"])


def test_injection_needs_the_stock_flow() -> None:
    frame = generate_channel_data(nodes=3, skus=2, periods=70, seed=1).sell_through
    with pytest.raises(ValueError, match="sell_in"):
        inject_anomalies(frame.drop(columns=["sell_in"]))


def test_generate_anomalies_writes_labels(tmp_path: Path) -> None:
    out = tmp_path / "data"
    assert main(["generate", "--out", str(out), "--nodes", "8", "--skus", "10",
                 "--periods", "80", "--anomalies"]) == 0
    labels = pd.read_csv(out / "anomalies.csv")
    assert list(labels.columns) == list(LABEL_COLUMNS)
    assert set(labels["kind"]) == KINDS
    # the inventory snapshot tells the same story as the last period's reported stock
    sell = pd.read_csv(out / "sell_through.csv", parse_dates=["date"])
    last = sell[sell["date"] == sell["date"].max()].set_index(["node_id", "sku"])["on_hand"]
    inventory = pd.read_csv(out / "inventory.csv").set_index(["node_id", "sku"])["on_hand"]
    both = inventory.index.intersection(last.index)
    assert len(both) > 0 and (inventory[both] == last[both]).all()
    stuffed = labels.loc[labels["kind"] == "channel_stuffing", "node_id"]
    assert inventory[inventory.index.get_level_values("node_id").isin(stuffed)].size > 0
