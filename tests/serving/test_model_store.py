"""The served model: cached forecast tables equal `Forecaster.predict`; swaps are atomic."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.model_store import (
    ForecastCache,
    ModelHolder,
    ModelUnavailableError,
    ServedModel,
    load_model,
)
from tests.serving.conftest import Workspace


@pytest.fixture(scope="module")
def served(workspace: Workspace) -> ServedModel:
    return load_model(workspace.model_uri, tracking_uri=workspace.tracking_uri)


def test_load_resolves_the_alias_to_the_version_loaded(served: ServedModel,
                                                      workspace: Workspace):
    assert served.name == "channelcast-demand" and served.version is not None
    assert served.origin_at_load == workspace.forecaster.origin
    assert len(served.index) == len(workspace.forecaster.keys)


@pytest.mark.parametrize(("model", "horizon", "levels"), [
    ("auto", 4, (0.1, 0.5, 0.9)), ("lgbm", 2, (0.05, 0.95)), ("ets", 3, (0.5,))])
def test_cached_tables_equal_forecaster_predict(served: ServedModel, model, horizon, levels):
    f = served.forecaster
    rows = [3, 0, 7]
    table = served.forecasts.table(model, horizon, levels)
    got = served.frame(rows, table)
    series = f.keys.iloc[rows][["node_id", "sku"]].astype(str)
    expected = f.predict(series, horizon=horizon, quantiles=levels, model=model)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)
    assert served.forecasts.peek(model, horizon, levels) is table


def test_cache_is_bounded_in_bytes(served: ServedModel):
    small = ForecastCache(served.forecaster, max_bytes=1)
    small.table("auto", 4, (0.1,))
    small.table("auto", 4, (0.2,))
    assert small.peek("auto", 4, (0.1,)) is None and small.peek("auto", 4, (0.2,)) is not None


def test_holder_swaps_and_says_when_empty(served: ServedModel):
    holder = ModelHolder()
    with pytest.raises(ModelUnavailableError, match="no model is loaded"):
        holder.get()
    first = holder.swap(served)
    kept = holder.get()
    second = holder.swap(served)
    assert kept is first and holder.get() is second and second.generation > first.generation


def test_rows_reports_unknown_pairs(served: ServedModel):
    known = tuple(served.forecaster.keys[["node_id", "sku"]].astype(str).iloc[0])
    rows, unknown = served.rows([known, ("X", "Y")])
    assert rows == [0] and unknown == [("X", "Y")]
