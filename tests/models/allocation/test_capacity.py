"""Node capacity is shared by the skus of one `allocate_all` call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.allocation import AllocationRequest, allocate_all
from models.demand_interval import IntervalDemand
from models.errors import InfeasibleAllocationError


def two_skus(highs: dict[str, list[float]]) -> IntervalDemand:
    """Demand U(0, h) per sku at nodes N0, N1, ..."""
    keys = pd.DataFrame([(f"N{i}", sku) for sku, hs in highs.items() for i in range(len(hs))],
                        columns=["node_id", "sku"])
    values = [[0.0, h] for hs in highs.values() for h in hs]
    return IntervalDemand.from_knots(levels=[0.0, 1.0], values=values, keys=keys)


def nodes(capacity: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"node_id": [f"N{i}" for i in range(len(capacity))],
                         "parent_id": None, "channel": "dealer", "lead_time_days": 7,
                         "review_period_days": 7, "priority": 1, "capacity": capacity})


def stock(skus: list[str], n: int, **extra: float) -> pd.DataFrame:
    return pd.DataFrame([{"node_id": f"N{i}", "sku": s, "on_hand": 0.0, "in_transit": 0.0,
                          "as_of": pd.Timestamp("2024-01-01"), **extra}
                         for s in skus for i in range(n)])


def _sold(highs: list[float], units: list[float]) -> float:
    """Expected units sold of U(0, h) demand from stock y: y - y^2 / 2h (y <= h)."""
    return sum(min(y, h) - min(y, h) ** 2 / (2 * h) for h, y in zip(highs, units, strict=True))


def test_skus_share_a_nodes_room_the_way_that_sells_most() -> None:
    # N0 has room for 6 units in all, N1 has no limit; 10 units of each sku. Demand for A is
    # U(0, 20) at both nodes, for B U(0, 40): B's sales hardly depend on where its units
    # go, A's do, so N0's room goes to A and B's stock goes to N1 (the brute-force optimum)
    demand = two_skus({"A": [20, 20], "B": [40, 40]})
    reqs = [AllocationRequest(sku="A", available=10), AllocationRequest(sku="B", available=10)]
    table = allocate_all(demand, requests=reqs, nodes=nodes([6, np.nan]),
                         inventory=stock(["A", "B"], 2))
    got = {(r.node_id, r.sku): r.allocated for r in table.itertuples()}
    assert got[("N0", "A")] + got[("N0", "B")] <= 6
    assert table["allocated"].sum() == 20  # the stock kept out of N0 went to N1
    ours = (_sold([20, 20], [got[("N0", "A")], got[("N1", "A")]])
            + _sold([40, 40], [got[("N0", "B")], got[("N1", "B")]]))
    best = max(_sold([20, 20], [a, 10 - a]) + _sold([40, 40], [b, 10 - b])
               for a in range(7) for b in range(7 - a))
    assert ours == pytest.approx(best)
    assert got[("N0", "A")] > got[("N0", "B")]
    assert "capacity" in set(table.loc[table["node_id"] == "N0", "bound"])


@pytest.mark.parametrize("policy", ["channelcast", "fair_share_forecast"])
def test_no_node_is_filled_beyond_its_capacity_by_all_skus_together(policy: str) -> None:
    rng = np.random.default_rng(0)
    n, skus = 6, ["A", "B", "C"]
    demand = two_skus({s: list(rng.uniform(5, 30, n)) for s in skus})
    capacity = [12.0, 30.0, np.nan, 8.0, np.nan, 20.0]
    reqs = [AllocationRequest(sku=s, available=float(a), pack_size=p)
            for s, a, p in zip(skus, (60, 45, 80), (1, 2, 4), strict=True)]
    table = allocate_all(demand, requests=reqs, nodes=nodes(capacity),
                         inventory=stock(skus, n), policy=policy)
    held = table.groupby("node_id")["allocated"].sum()
    room = pd.Series(capacity, index=[f"N{i}" for i in range(n)])
    assert (held[room.notna()] <= room.dropna() + 1e-9).all()
    assert (table.groupby("sku")["allocated"].sum()
            <= pd.Series({r.sku: r.available for r in reqs})).all()
    assert (table["allocated"] % table["sku"].map({"A": 1, "B": 2, "C": 4}) == 0).all()


def test_minimums_of_all_skus_over_a_nodes_room_are_refused() -> None:
    demand = two_skus({"A": [10], "B": [10]})
    reqs = [AllocationRequest(sku="A", available=10), AllocationRequest(sku="B", available=10)]
    with pytest.raises(InfeasibleAllocationError, match="N0.*capacity"):
        allocate_all(demand, requests=reqs, nodes=nodes([8]),
                     inventory=stock(["A", "B"], 1, min_qty=5.0))


def _milp_optimum(p, node: np.ndarray, room: np.ndarray) -> float:  # noqa: ANN001
    """HiGHS optimum of the shared-capacity problem (one binary per pack that can sell)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    from models.allocation.kernel import pack_value

    top = np.ceil((p.demand.values[:, -1] - p.position) / p.pack) + 1
    count = np.maximum(np.minimum(p.hi, top), p.lo).astype(np.int64)
    rows = np.repeat(np.arange(len(count)), count)
    k = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count) + 1
    value = p.weight[rows] * pack_value(p, rows, k)
    cols = np.arange(rows.size)
    n_g, n_n, n_r = p.n_groups, room.size, len(count)
    a = coo_matrix((np.concatenate([np.ones(rows.size), p.pack[rows], np.ones(rows.size)]),
                    (np.concatenate([p.group[rows], n_g + node[rows], n_g + n_n + rows]),
                     np.tile(cols, 3))), shape=(n_g + n_n + n_r, rows.size))
    lb = np.concatenate([np.full(n_g + n_n, -np.inf), p.lo])
    ub = np.concatenate([p.budget, room, p.hi])
    res = milp(-value, constraints=LinearConstraint(a.tocsr(), lb, ub),
               integrality=np.ones(rows.size), bounds=Bounds(0, 1))
    assert res.success
    return float(-res.fun + (p.weight * p.demand.expected_sales(p.position)).sum())


def test_shared_capacity_is_close_to_the_exact_optimum() -> None:
    from models.allocation import AllocationConfig, limits_problem
    from models.allocation.kernel import objective
    from models.allocation.table import limits_frame

    gaps = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n, skus = int(rng.integers(2, 7)), [f"K{s}" for s in range(int(rng.integers(2, 5)))]
        low = rng.uniform(0, 10, n * len(skus))
        high = low + rng.uniform(2, 40, low.size)
        keys = pd.DataFrame([(f"N{i}", s) for s in skus for i in range(n)],
                            columns=["node_id", "sku"])
        demand = IntervalDemand.from_knots(levels=[0.0, 1.0], keys=keys,
                                           values=np.column_stack([low, high]))
        capacity = list(np.where(rng.random(n) < 0.7, rng.uniform(5, 40, n), np.nan))
        reqs = [AllocationRequest(sku=s, available=float(rng.uniform(5, 60)),
                                  pack_size=int(rng.choice([1, 2, 3]))) for s in skus]
        inv = stock(skus, n)
        table = allocate_all(demand, requests=reqs, nodes=nodes(capacity), inventory=inv)
        lim = limits_frame(demand, requests=reqs, nodes=nodes(capacity), inventory=inv)
        p = limits_problem(demand, lim, reqs, AllocationConfig())
        codes, names = pd.factorize(lim["node_id"])
        room = np.full(len(names), np.inf)
        room[codes] = lim["room"].to_numpy()
        ours = float(objective(p, table["packs"].to_numpy(np.int64)).sum())
        best = _milp_optimum(p, codes.astype(np.int64), room)
        assert ours <= best + 1e-6
        gaps.append((best - ours) / best)
    # a heuristic (exact for one sku): measured within 10% worst, 0.3% mean (BENCHMARKS.md)
    assert max(gaps) < 0.05 and np.mean(gaps) < 0.005
