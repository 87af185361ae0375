"""Allocation by example: oracles, each constraint, the explanations and the errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models.allocation import (
    AllocationConfig,
    AllocationRequest,
    allocate,
    allocate_all,
    fair_share,
)
from models.allocation.kernel import objective
from models.demand_interval import IntervalDemand
from models.errors import InfeasibleAllocationError, UnknownNodeError
from tests.models.allocation.cases import case_problem, make_case


def uniform(highs: list[float], sku: str = "S1") -> IntervalDemand:
    """Demand U(0, h) at nodes N0, N1, ... for one sku."""
    keys = pd.DataFrame({"node_id": [f"N{i}" for i in range(len(highs))], "sku": sku})
    return IntervalDemand.from_knots(levels=[0.0, 1.0], values=[[0.0, h] for h in highs],
                                     keys=keys)


def nodes_table(n: int, priority: list[int] | None = None,
                capacity: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"node_id": [f"N{i}" for i in range(n)], "parent_id": None,
                         "channel": "dealer", "lead_time_days": 7, "review_period_days": 7,
                         "priority": priority or [1] * n,
                         "capacity": capacity or [np.nan] * n})


def inventory(on_hand: list[float], **extra: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({"node_id": [f"N{i}" for i in range(len(on_hand))], "sku": "S1",
                          "on_hand": on_hand, "in_transit": 0.0,
                          "as_of": pd.Timestamp("2024-01-01")})
    return frame.assign(**extra)


def test_equal_nodes_share_equally_and_reach_equal_risk() -> None:
    table = allocate(uniform([10, 10]), request=AllocationRequest(sku="S1", available=8),
                     nodes=nodes_table(2), inventory=inventory([0, 0]))
    assert table["allocated"].tolist() == [4, 4]
    assert table["p_stockout_after"].tolist() == pytest.approx([0.6, 0.6])
    assert set(table["bound"]) == {"available"}


def test_scarce_stock_goes_where_it_sells_with_the_highest_probability() -> None:
    # N0 already holds 8 of U(0, 10); N1 has nothing of U(0, 10): the 4 units all go to N1
    table = allocate(uniform([10, 10]), request=AllocationRequest(sku="S1", available=4),
                     nodes=nodes_table(2), inventory=inventory([8, 0]))
    assert table["allocated"].tolist() == [0, 4]


def test_abundant_stock_stops_where_nothing_more_would_sell() -> None:
    table = allocate(uniform([3, 5]), request=AllocationRequest(sku="S1", available=100),
                     nodes=nodes_table(2), inventory=inventory([0, 0]))
    assert table["allocated"].tolist() == [3, 5]
    assert table["bound"].tolist() == ["demand", "demand"]
    assert table["p_stockout_after"].tolist() == pytest.approx([0.0, 0.0])


def test_every_line_is_a_multiple_of_the_pack_and_within_the_stock() -> None:
    table = allocate(uniform([20, 30, 40]), request=AllocationRequest(sku="S1", available=50,
                                                                      pack_size=6),
                     nodes=nodes_table(3), inventory=inventory([0, 0, 0]))
    assert (table["allocated"] % 6 == 0).all()
    assert table["allocated"].sum() == 48


def test_min_max_capacity_and_exclusions_hold() -> None:
    inv = inventory([0, 0, 0, 4], min_qty=[6, np.nan, np.nan, np.nan],
                    max_qty=[np.nan, 2, np.nan, np.nan])
    nodes = nodes_table(4, capacity=[np.nan, np.nan, 7, np.nan])
    request = AllocationRequest(sku="S1", available=40, exclude=("N3",))
    table = allocate(uniform([1, 10, 10, 10]), request=request, nodes=nodes, inventory=inv)
    got = dict(zip(table["node_id"], table["allocated"], strict=True))
    assert got["N0"] == 6 and got["N1"] == 2 and got["N2"] == 7 and got["N3"] == 0
    bound = dict(zip(table["node_id"], table["bound"], strict=True))
    assert bound == {"N0": "min_qty", "N1": "max_qty", "N2": "capacity", "N3": "excluded"}


def test_capacity_counts_everything_the_node_holds() -> None:
    inv = pd.concat([inventory([2]), inventory([5]).assign(sku="OTHER")])
    table = allocate(uniform([50]), request=AllocationRequest(sku="S1", available=40),
                     nodes=nodes_table(1, capacity=[10]), inventory=inv)
    assert table["allocated"].tolist() == [3]  # 10 - (2 + 5) units of room


def test_request_overrides_the_inventory_limits() -> None:
    inv = inventory([0, 0], max_qty=[1, 1])
    request = AllocationRequest(sku="S1", available=10, max_qty={"N0": 5}, min_qty={"N1": 1})
    table = allocate(uniform([10, 10]), request=request, nodes=nodes_table(2), inventory=inv)
    assert table["allocated"].tolist() == [5, 1]


def test_first_tier_reaches_its_target_before_the_second_gets_anything() -> None:
    config = AllocationConfig(target_service=0.8)
    request = AllocationRequest(sku="S1", available=9)
    table = allocate(uniform([10, 10]), request=request, nodes=nodes_table(2, [1, 2]),
                     inventory=inventory([0, 0]), config=config)
    assert table["allocated"].tolist() == [8, 1]
    small = allocate(uniform([10, 10]), request=AllocationRequest(sku="S1", available=6),
                     nodes=nodes_table(2, [1, 2]), inventory=inventory([0, 0]), config=config)
    assert small["allocated"].tolist() == [6, 0]
    assert small["bound"].tolist() == ["available", "tier"]


def test_min_sell_through_keeps_unlikely_packs_central() -> None:
    config = AllocationConfig(min_sell_through=0.5)
    table = allocate(uniform([10]), request=AllocationRequest(sku="S1", available=10),
                     nodes=nodes_table(1), inventory=inventory([0]), config=config)
    assert table["allocated"].tolist() == [5]  # P(D > y) >= 0.5 up to y = 5


def test_profit_keeps_packs_central_that_do_not_pay_their_holding() -> None:
    # a unit pays when P(sold) >= 0.3
    paid = AllocationRequest(sku="S1", available=10, unit_margin=1.0, holding_cost=0.3)
    table = allocate(uniform([10]), request=paid,
                     nodes=nodes_table(1), inventory=inventory([0]))
    assert table["allocated"].tolist() == [7]  # the 8th unit sells with P = 0.25 < 0.3
    assert table["bound"].tolist() == ["holding"]
    everything = replace(paid, objective="units")
    table = allocate(uniform([10]), request=everything, nodes=nodes_table(1),
                     inventory=inventory([0]))
    assert table["allocated"].tolist() == [10]  # "allocate everything" that can sell
    unknown = allocate(uniform([10]), request=AllocationRequest(sku="S1", available=10),
                       nodes=nodes_table(1), inventory=inventory([0]))
    assert unknown["allocated"].tolist() == [10]  # no margin known: units


def test_profit_request_refuses_bad_money() -> None:
    with pytest.raises(ValueError, match="`unit_margin` of sku S1 must be a number > 0"):
        AllocationRequest(sku="S1", available=1, unit_margin=0.0, holding_cost=0.1).check()
    with pytest.raises(ValueError, match="`objective` of sku S1 must be one of"):
        AllocationRequest(sku="S1", available=1, objective="revenue").check()


def test_fair_share_equalises_cover() -> None:
    demand = uniform([10, 30])  # means 5 and 15
    request = AllocationRequest(sku="S1", available=16)
    table = fair_share(demand, request=request, nodes=nodes_table(2),
                       inventory=inventory([0, 4]))
    assert table["allocated"].tolist() == [5, 11]  # cover (0+5)/5 == (4+11)/15 == 1
    assert set(table["bound"]) == {"share"}
    sales = pd.Series({("N0", "S1"): 1.0, ("N1", "S1"): 1.0})
    by_sales = fair_share(demand, request=request, nodes=nodes_table(2),
                          inventory=inventory([0, 4]), basis="sales", recent_sales=sales)
    assert by_sales["allocated"].tolist() == [10, 6]  # equal sales: equal final positions


def test_allocate_all_equals_one_request_at_a_time() -> None:
    cases = [make_case(seed) for seed in (1, 2)]
    d0 = cases[0].demand
    d1 = cases[1].demand
    keys = pd.concat([d0.keys, d1.keys.assign(sku="S2")], ignore_index=True)
    both = IntervalDemand(keys=keys, mean=np.concatenate([d0.mean, d1.mean]),
                          periods=np.concatenate([d0.periods, d1.periods]), levels=d0.levels,
                          values=np.vstack([d0.values, d1.values]))
    nodes = pd.concat([cases[0].nodes, cases[1].nodes]).drop_duplicates("node_id")
    inv = pd.concat([cases[0].inventory.assign(min_qty=np.nan, max_qty=np.nan),
                     cases[1].inventory.assign(sku="S2", min_qty=np.nan, max_qty=np.nan)])
    reqs = [AllocationRequest(sku="S1", available=30, pack_size=2),
            AllocationRequest(sku="S2", available=45, pack_size=3)]
    together = allocate_all(both, requests=reqs, nodes=nodes, inventory=inv)
    for req in reqs:
        alone = allocate(both, request=req, nodes=nodes, inventory=inv)
        part = together[together["sku"] == req.sku].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone)


def test_explanations_are_consistent_with_the_lines() -> None:
    case = make_case(11)
    table = allocate(case.demand, request=case.request, nodes=case.nodes,
                     inventory=case.inventory, config=case.config)
    assert (table["position_after"] == table["position_before"] + table["allocated"]).all()
    assert (table["p_stockout_after"] <= table["p_stockout_before"] + 1e-12).all()
    assert (table["demand_q0.9"] >= 0).all()
    p = case_problem(case)
    assert objective(p, table["packs"].to_numpy())[0] >= objective(p, p.lo)[0]


def test_minimums_over_the_stock_are_refused_with_the_cause() -> None:
    inv = inventory([0, 0], min_qty=[5, 5])
    with pytest.raises(InfeasibleAllocationError, match="minimums.*available"):
        allocate(uniform([10, 10]), request=AllocationRequest(sku="S1", available=9),
                 nodes=nodes_table(2), inventory=inv)


def test_a_minimum_over_the_node_maximum_is_refused() -> None:
    inv = inventory([0], min_qty=[5], max_qty=[3])
    with pytest.raises(InfeasibleAllocationError, match="N0.*max_qty"):
        allocate(uniform([10]), request=AllocationRequest(sku="S1", available=9),
                 nodes=nodes_table(1), inventory=inv)


@pytest.mark.parametrize("pack", [0, -2, 1.5])
def test_pack_size_must_be_a_whole_positive_number(pack: float) -> None:
    with pytest.raises(ValueError, match="pack_size"):
        allocate(uniform([10]), request=AllocationRequest(sku="S1", available=9,
                                                          pack_size=pack),  # type: ignore[arg-type]
                 nodes=nodes_table(1), inventory=inventory([0]))


def test_unknown_nodes_and_skus_are_refused() -> None:
    with pytest.raises(UnknownNodeError, match="NOPE"):
        allocate(uniform([10]), request=AllocationRequest(sku="S1", available=9,
                                                          exclude=("NOPE",)),
                 nodes=nodes_table(1), inventory=inventory([0]))
    with pytest.raises(UnknownNodeError, match="not in `nodes`"):
        allocate(uniform([10, 10]), request=AllocationRequest(sku="S1", available=9),
                 nodes=nodes_table(1), inventory=inventory([0]))
    with pytest.raises(UnknownNodeError, match="S9"):
        allocate(uniform([10]), request=AllocationRequest(sku="S9", available=9),
                 nodes=nodes_table(1), inventory=inventory([0]))


def test_bad_settings_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="target_service"):
        allocate(uniform([10]), request=AllocationRequest(sku="S1", available=9),
                 nodes=nodes_table(1), config=AllocationConfig(target_service=1.0))
    with pytest.raises(ValueError, match="available"):
        allocate(uniform([10]), request=AllocationRequest(sku="S1", available=-1),
                 nodes=nodes_table(1))


def test_stocked_node_without_forecast_still_gets_its_minimum() -> None:
    inv = pd.concat([inventory([0]), inventory([0], min_qty=[2]).assign(node_id="N1")])
    table = allocate(uniform([10]), request=AllocationRequest(sku="S1", available=9),
                     nodes=nodes_table(2), inventory=inv)
    assert dict(zip(table["node_id"], table["allocated"], strict=True)) == {"N0": 7, "N1": 2}


def test_stock_lost_before_arrival_is_not_counted_as_saved() -> None:
    # two weeks of U(0, 10) each (comonotone); a shipment lands after week 1. N0 is empty,
    # so week 1 is lost whatever is shipped: the shipment only serves its week 2.
    base = uniform([20, 20])
    lead = np.array([[0.0, 10.0], [0.0, 10.0]])
    with_lead = IntervalDemand(keys=base.keys, mean=base.mean, periods=base.periods,
                               levels=base.levels, values=base.values, lead=lead)
    request = AllocationRequest(sku="S1", available=10)
    naive = allocate(base, request=request, nodes=nodes_table(2), inventory=inventory([0, 10]))
    lost = allocate(with_lead, request=request, nodes=nodes_table(2),
                    inventory=inventory([0, 10]))
    assert naive["allocated"].tolist() == [10, 0]
    assert lost["allocated"].tolist() in ([7, 3], [6, 4])
