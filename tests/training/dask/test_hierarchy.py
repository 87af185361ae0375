"""Forecasts at every level on the Dask engine (issue 23) agree with the local engine: the
aggregate history summed from the partitions equals `aggregate_history` of the whole, and
`fit_levels_dask` gives `fit_levels`' model (hierarchy, default method, reconciled means and
quantiles of every series at every level) with the local models (ETS, baselines, `auto`:
identical on both engines; LightGBM is another draw on Dask, see test_engine.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract.partitioned import open_store, write_partitioned
from features.contract.validation import load_validated
from features.synthetic import generate_channel_data, write_channel_data
from training.dask.cluster import connect
from training.dask.hierarchy import aggregate_history_dask, fit_levels_dask
from training.engine.hierarchy import fit_levels
from training.engine.hierarchy_model import aggregate_history

pytestmark = pytest.mark.slow  # a Dask cluster per module: `make test-fast` leaves it out
LOCAL = ("ets", "snaive", "croston", "tsb", "ma", "auto")


@pytest.fixture(scope="module")
def client():
    with connect("local-cluster:2") as c:
        yield c


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("levels")
    write_channel_data(generate_channel_data(nodes=5, skus=6, periods=70, freq="W", seed=4),
                       root / "data")
    report = load_validated(root / "data")
    history, nodes = report.tables["sell_through"], report.tables["nodes"]
    store = write_partitioned(history, root / "store", freq=str(report.freq), nodes=nodes,
                              buckets=3)
    return open_store(store), history, nodes, str(report.freq)


def test_aggregates_summed_over_partitions_equal_the_whole(client, channel):
    store, history, nodes, freq = channel
    local = fit_levels(history, nodes=nodes, freq=freq, horizon=4, models=("snaive",),
                       calibration_windows=1, method="bottom_up")
    hierarchy = local.hierarchy
    assert hierarchy is not None and len(store.files) == 3
    want = aggregate_history(history, hierarchy, freq=freq)
    got = aggregate_history_dask(client, store, hierarchy)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False,
                                  rtol=1e-12)


def test_fit_levels_on_dask_equals_the_local_engine(client, channel):
    store, history, nodes, freq = channel
    # the default method chosen on the calibration windows (scored at every level) on both
    local = fit_levels(history, nodes=nodes, freq=freq, horizon=4, models=LOCAL,
                       calibration_windows=2)
    dask = fit_levels_dask(client, store, horizon=4, models=LOCAL, calibration_windows=2)
    assert local.hierarchy is not None and dask.hierarchy is not None
    pd.testing.assert_frame_equal(dask.hierarchy.keys, local.hierarchy.keys)
    assert (dask.hierarchy.summing != local.hierarchy.summing).nnz == 0
    assert dask.reconcile == local.reconcile
    assert local.levels is not None and dask.levels is not None
    assert local.levels.scores is not None and dask.levels.scores is not None
    cols = ["method", "level", "skus", "wrmsse"]
    pd.testing.assert_frame_equal(dask.levels.scores[cols], local.levels.scores[cols],
                                  rtol=1e-9)
    for how in ("bottom_up", "mint_shrink", "none", None):
        want = local.predict_levels(quantiles=(0.1, 0.5, 0.9), reconcile=how)
        got = dask.predict_levels(quantiles=(0.1, 0.5, 0.9), reconcile=how)
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, atol=1e-9)
    # the levels add up: every aggregate is the sum of its bottom series
    means = dask.predict_levels(quantiles=(0.5,))
    table = means.pivot_table(index=["level", "node_id", "sku"], columns="date",
                              values="mean", sort=False)
    keys = dask.hierarchy.keys
    values = table.loc[pd.MultiIndex.from_frame(keys)].to_numpy()
    summed = dask.hierarchy.summing @ values[: dask.hierarchy.n_bottom]
    assert np.allclose(summed, values, rtol=1e-9, atol=1e-9)
