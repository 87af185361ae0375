"""The hierarchy builder: parent chains, channels, sku groups, the summing matrix, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.hierarchy import ALL_SKUS, LEVELS, TOTAL, aggregate, build_hierarchy


def _nodes() -> pd.DataFrame:
    """Region R1 > distributor D1 > dealers K1, K2; D1 sells too; direct store S1 alone."""
    return pd.DataFrame({
        "node_id": ["R1", "D1", "K1", "K2", "S1"],
        "parent_id": [None, "R1", "D1", "D1", ""],
        "channel": ["region", "distributor", "dealer", "dealer", "direct"],
    })


def _bottom() -> pd.DataFrame:
    return pd.DataFrame({"node_id": ["K1", "K1", "K2", "D1", "S1"],
                         "sku": ["a", "b", "a", "b", "c"]})


def _row(h, level: str, node: str, sku: str) -> np.ndarray:  # noqa: ANN001
    i = h.rows(pd.DataFrame({"level": [level], "node_id": [node], "sku": [sku]}))[0]
    return h.summing[i].toarray().ravel()


def test_bottom_rows_first_in_given_order() -> None:
    h = build_hierarchy(_nodes(), _bottom())
    assert h.n_bottom == 5
    head = h.keys.iloc[:5]
    assert (head["level"] == "node").all()
    assert head[["node_id", "sku"]].values.tolist() == _bottom().values.tolist()
    np.testing.assert_array_equal(h.summing[:5].toarray(), np.eye(5))
    assert set(h.keys["level"]) == set(LEVELS)


def test_parent_chain_channel_and_total() -> None:
    h = build_hierarchy(_nodes(), _bottom())
    # D1 aggregates its dealers and its own sales; R1 (a parent of a parent) the same
    np.testing.assert_array_equal(_row(h, "parent", "D1", ALL_SKUS), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(_row(h, "parent", "R1", "a"), [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(_row(h, "channel", "dealer", ALL_SKUS), [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(_row(h, "channel", "distributor", "b"), [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(_row(h, "total", TOTAL, ALL_SKUS), [1, 1, 1, 1, 1])
    np.testing.assert_array_equal(_row(h, "node", "K1", ALL_SKUS), [1, 1, 0, 0, 0])
    # S1 has no parent: it appears in no parent aggregate
    parents = h.summing[h.level_rows("parent")].toarray()
    assert (parents[:, 4] == 0).all()


def test_sku_groups_from_items() -> None:
    items = pd.DataFrame({"sku": ["a", "b", "c"], "group": ["G1", "G1", "G2"]})
    h = build_hierarchy(_nodes(), _bottom(), items)
    np.testing.assert_array_equal(_row(h, "total", TOTAL, "G1"), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(_row(h, "parent", "D1", "G1"), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(_row(h, "node", "S1", "G2"), [0, 0, 0, 0, 1])


def test_aggregate_and_unknown_series() -> None:
    h = build_hierarchy(_nodes(), _bottom())
    values = np.arange(10.0).reshape(5, 2)
    out = aggregate(values, h)
    assert out.shape == (h.n_all, 2)
    np.testing.assert_allclose(out[h.rows(pd.DataFrame(
        {"level": ["total"], "node_id": [TOTAL], "sku": [ALL_SKUS]}))[0]], values.sum(axis=0))
    with pytest.raises(KeyError, match="not in the hierarchy.*parent.*K1"):
        h.rows(pd.DataFrame({"level": ["parent"], "node_id": ["K1"], "sku": ["*"]}))
    with pytest.raises(ValueError, match="5 bottom series"):
        aggregate(values[:3], h)


@pytest.mark.parametrize(("items", "message"), [
    (pd.DataFrame({"sku": ["a"], "grp": ["G"]}), "lacks columns \\['group'\\]"),
    (pd.DataFrame({"sku": ["a", "b"], "group": ["G", None]}), "row 3 \\(sku 'b'\\).*empty"),
    (pd.DataFrame({"sku": ["a", "a"], "group": ["G", "H"]}), "sku 'a' more than one"),
    (pd.DataFrame({"sku": ["a", "b"], "group": ["c", "c"]}), "group 'c' is also a sku"),
])
def test_bad_items_table(items: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_hierarchy(_nodes(), _bottom(), items)


def test_bad_nodes() -> None:
    loop = _nodes().assign(parent_id=["K1", "R1", "D1", "D1", None])
    with pytest.raises(ValueError, match="chain of node 'K1' loops"):
        build_hierarchy(loop, _bottom())
    with pytest.raises(ValueError, match=r"not in the nodes table, e.g. \['X9'\]"):
        build_hierarchy(_nodes(), pd.DataFrame({"node_id": ["X9"], "sku": ["a"]}))
    with pytest.raises(ValueError, match="twice"):
        build_hierarchy(_nodes(), pd.concat([_bottom(), _bottom().iloc[:1]]))
