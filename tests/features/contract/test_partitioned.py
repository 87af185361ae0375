"""The partitioned store: whole series per file, lossless, hierarchy totals from group-bys
equal to the local ones, and the same fingerprint whichever way it is read."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest

from channelcast.cli import main as cli
from features.contract.partitioned import (
    is_store,
    open_store,
    part_fingerprint,
    series_bucket,
    store_fingerprint,
    summarize_history,
    write_partitioned,
)
from features.engineering.hierarchy import hierarchy_totals
from features.engineering.history import build_panel
from features.engineering.training_set import build_training_set
from features.schema import DATE, ITEM, NODE, UNITS
from features.synthetic import generate_channel_data, write_channel_data
from tests.conftest import make_history, make_nodes


@pytest.fixture(scope="module")
def channel():
    data = generate_channel_data(nodes=5, skus=8, periods=70, freq="W", seed=4)
    return data.sell_through, data.nodes


def test_buckets_are_stable_and_hold_whole_series(
        tmp_path: Path, channel: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    history, nodes = channel
    a = series_bucket(history[NODE], history[ITEM], buckets=4)
    b = series_bucket(history[NODE].copy(), history[ITEM].copy(), buckets=4)
    assert np.array_equal(a, b) and set(np.unique(a)) <= {0, 1, 2, 3}
    store = open_store(write_partitioned(history, tmp_path / "s", freq="W-MON", nodes=nodes,
                                         buckets=4))
    seen: set[tuple[str, str]] = set()
    for f in store.files:
        part = pd.read_parquet(f)
        series = set(map(tuple, part[[NODE, ITEM]].drop_duplicates().to_numpy()))
        assert not series & seen  # no series is split over two files
        seen |= series
    assert len(seen) == history.groupby([NODE, ITEM]).ngroups == store.meta["series"]


def test_store_reads_back_every_row(tmp_path, channel):
    history, nodes = channel
    store = open_store(write_partitioned(history, tmp_path / "s", freq="W-MON", nodes=nodes,
                                         buckets=3))
    back = store.load_history()
    want = history.sort_values([NODE, ITEM, DATE]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, want[back.columns], check_dtype=False)
    assert store.freq == "W-MON" and is_store(store.path) and not is_store(tmp_path)
    with dask.config.set(scheduler="synchronous"):
        frame = store.dask_history()
        assert frame.npartitions == len(store.files) == 3
        assert len(frame) == len(history)


def test_open_store_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="parquet-dir"):
        open_store(tmp_path)


def test_group_by_totals_equal_the_local_hierarchy_totals(tmp_path, channel):
    history, nodes = channel
    store = open_store(write_partitioned(history, tmp_path / "s", freq="W-MON", nodes=nodes,
                                         buckets=3))
    with dask.config.set(scheduler="synchronous"):
        summary = summarize_history(store.dask_history(), nodes)
    panel = build_panel(history, freq="W-MON")
    local = hierarchy_totals(panel, nodes)
    looked_up = hierarchy_totals(panel, nodes, totals=summary.totals)
    assert list(local) == list(looked_up) == ["sku", "node", "parent"]
    for level in local:
        np.testing.assert_array_equal(local[level], looked_up[level])
    assert summary.n_series == panel.n_series and summary.n_rows == len(history)
    assert summary.categories[NODE] == sorted(panel.keys[NODE].unique())


def test_a_partition_with_global_totals_and_start_builds_the_local_rows():
    history, nodes = make_history(n_nodes=3, n_items=4, weeks=40, seed=2), make_nodes(3)
    history = history[~((history[NODE] == "N2") & (history[DATE] < "2024-03-01"))]
    whole = build_training_set(history, horizon=3, freq="W-MON", nodes=nodes)
    sums = {}  # the totals of every series, as the Dask group-bys return them
    for level, label in (("sku", ITEM), ("node", NODE)):
        sums[level] = history.groupby([label, DATE])[UNITS].sum().astype(float)
    parent = history[NODE].map(nodes.set_index(NODE)["parent_id"])
    sums["parent"] = history.assign(p=parent + "\x1f" + history[ITEM]).groupby(
        ["p", DATE])[UNITS].sum().astype(float)
    late = history[history[NODE] == "N2"]  # starts after the others
    part = build_training_set(late, horizon=3, freq="W-MON", nodes=nodes, totals=sums,
                              start=history[DATE].min())
    rows = (whole.keys[NODE] == "N2").to_numpy()
    got = part.features.drop(columns=[NODE, ITEM, "channel"]).reset_index(drop=True)
    want = whole.features[rows].drop(columns=[NODE, ITEM, "channel"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    np.testing.assert_array_equal(part.targets, whole.targets[rows])


def test_fingerprint_is_the_same_from_parts(tmp_path, channel):
    history, nodes = channel
    store = open_store(write_partitioned(history, tmp_path / "s", freq="W-MON", nodes=nodes,
                                         buckets=3))
    once = store_fingerprint(store)
    again = store_fingerprint(store, [part_fingerprint(f) for f in store.files])
    assert once == again and once["data.rows"] == str(len(history))


def test_ingest_writes_a_parquet_store(tmp_path, capsys):
    folder = tmp_path / "data"
    write_channel_data(generate_channel_data(nodes=3, skus=4, periods=30, seed=1), folder)
    assert cli(["ingest", str(folder), "--parquet-dir", str(tmp_path / "store"),
                "--buckets", "2"]) == 0
    assert "partition(s) by series" in capsys.readouterr().out
    store = open_store(tmp_path / "store")
    assert len(store.files) == 2 and store.nodes() is not None
    assert cli(["ingest", str(folder)]) == 2
