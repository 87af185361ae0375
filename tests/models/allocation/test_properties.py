"""Allocation invariants on random instances (hypothesis): stock, packs, limits, tiers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.allocation import AllocationRequest, allocate, fair_share
from models.allocation.kernel import objective
from models.errors import InfeasibleAllocationError
from tests.models.allocation.cases import Case, case_problem, make_case

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw: st.DrawFn) -> Case:
    case = make_case(draw(st.integers(0, 2**31 - 1)), max_nodes=30)
    share = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0, 3.0]))
    pack = draw(st.sampled_from([case.request.pack_size, 1, 5, 24]))
    mins = np.ceil(case.inventory["min_qty"] / pack) * pack
    inv = case.inventory.assign(min_qty=mins, max_qty=np.fmax(case.inventory["max_qty"], mins))
    nodes = case.nodes.assign(capacity=case.nodes["capacity"] + np.nan_to_num(mins.to_numpy()))
    need = float(np.nansum(mins[~inv["node_id"].isin(case.request.exclude)]))
    available = need + float(np.floor(share * case.demand.mean.sum()))
    request = replace(case.request, available=available, pack_size=pack)
    return replace(case, inventory=inv, nodes=nodes, request=request)


def _check_limits(case: Case, table: object) -> None:
    t = table  # the allocation table
    p = case_problem(case)
    packs = t["packs"].to_numpy()  # type: ignore[index]
    alloc = t["allocated"].to_numpy()  # type: ignore[index]
    assert alloc.sum() <= case.request.available + 1e-9, "more than available"
    np.testing.assert_allclose(alloc, packs * case.request.pack_size)
    assert (packs >= p.lo).all(), "below a minimum"
    assert (packs <= p.hi).all(), "over max_qty, capacity or stock"
    excluded = t["node_id"].isin(case.request.exclude).to_numpy()  # type: ignore[index]
    assert (alloc[excluded] == 0).all()


@SETTINGS
@given(cases())
def test_allocate_respects_stock_packs_and_limits(case: Case) -> None:
    table = allocate(case.demand, request=case.request, nodes=case.nodes,
                     inventory=case.inventory, config=case.config)
    _check_limits(case, table)


@SETTINGS
@given(cases())
def test_fair_share_respects_stock_packs_and_limits(case: Case) -> None:
    table = fair_share(case.demand, request=case.request, nodes=case.nodes,
                       inventory=case.inventory)
    _check_limits(case, table)


@SETTINGS
@given(cases())
def test_a_higher_tier_is_never_starved_for_a_lower_one(case: Case) -> None:
    table = allocate(case.demand, request=case.request, nodes=case.nodes,
                     inventory=case.inventory, config=case.config)
    p = case_problem(case)
    packs = table["packs"].to_numpy()
    for tier in np.unique(p.priority):
        lower_got_more = ((p.priority > tier) & (packs > p.lo)).any()
        if lower_got_more:
            higher = p.priority <= tier
            assert (packs[higher] >= p.target[higher]).all(), (
                f"a tier below {tier} got stock while tier <= {tier} was short of target")


@SETTINGS
@given(cases())
def test_allocation_is_never_worse_than_the_minimums_alone(case: Case) -> None:
    table = allocate(case.demand, request=case.request, nodes=case.nodes,
                     inventory=case.inventory, config=case.config)
    p = case_problem(case)
    assert objective(p, table["packs"].to_numpy())[0] >= objective(p, p.lo)[0] - 1e-9


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_minimums_over_the_stock_are_reported_not_broken(seed: int, short: int) -> None:
    case = make_case(seed, max_nodes=20)
    pack = case.request.pack_size
    mins = np.where(np.isnan(case.inventory["min_qty"]), pack, case.inventory["min_qty"])
    mins = np.ceil(mins / pack) * pack
    inv = case.inventory.assign(min_qty=mins)
    excluded = inv["node_id"].isin(case.request.exclude).to_numpy()
    available = float(mins[~excluded].sum() - short * pack)
    if available < 0:
        return
    request = AllocationRequest(sku="S1", available=available, pack_size=pack,
                                exclude=case.request.exclude)
    with pytest.raises(InfeasibleAllocationError, match="minimums"):
        allocate(case.demand, request=request, nodes=case.nodes, inventory=inv,
                 config=case.config)
