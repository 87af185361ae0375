"""The perfect-foresight policy: reaches the supply cap when it can, never breaks a bound."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from training.policy.oracle import Oracle
from training.policy.sim import SimInputs, SimOutcome, simulate


def run_oracle(inputs: SimInputs, pack: list[float], weight: np.ndarray | None = None
               ) -> tuple[SimOutcome, list[np.ndarray]]:
    """Replay under the oracle, recording every shipment and the central stock it saw."""
    oracle = Oracle(inputs, pack=np.array(pack, dtype=float),
                    weight=np.ones(len(inputs.group)) if weight is None else weight)
    seen: list[np.ndarray] = []

    def decide(t: int, position: np.ndarray, central: np.ndarray) -> np.ndarray:
        ship = oracle(t, position, central)
        seen.append(np.c_[ship, central[inputs.group]])
        return ship

    return simulate(inputs, decide=decide), seen


def channel(demand: list[list[float]], *, group: list[int], lead: list[int],
            supply: list[list[float]], review: int = 1,
            initial: list[float] | None = None) -> SimInputs:
    d = np.array(demand, dtype=float)
    return SimInputs(demand=d, group=np.array(group, np.int64), lead=np.array(lead, np.int64),
                     review=review, supply=np.array(supply, dtype=float),
                     initial=np.zeros(len(d)) if initial is None else np.array(initial, float))


def test_enough_supply_sells_every_unit_it_can_reach() -> None:
    # lead 1 at node 0: its demand in period 0 cannot be served; everything else can
    inputs = channel([[2, 3, 1, 4], [5, 0, 2, 2]], group=[0, 0], lead=[1, 0],
                     supply=[[20, 0, 0, 0]])
    out, _ = run_oracle(inputs, pack=[1])
    assert out.sold == 17.0 and out.lost == 2.0
    assert out.node_stock[-1] == 0.0  # ships only what sells: the rest stays central
    assert out.central_stock[-1] == 3.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scarce_supply_is_all_sold(seed: int) -> None:
    rng = np.random.default_rng(seed)
    demand = rng.poisson(4.0, (6, 20)).astype(float)
    supply = np.floor(0.7 * np.vstack([demand[:3].sum(axis=0), demand[3:].sum(axis=0)]))
    same_period = channel(demand.tolist(), group=[0, 0, 0, 1, 1, 1], lead=[0] * 6,
                          supply=supply.tolist())
    out, _ = run_oracle(same_period, pack=[1, 1])
    assert out.sold == supply.sum()  # the supply cap
    inputs = channel(demand.tolist(), group=[0, 0, 0, 1, 1, 1], lead=[0, 1, 2, 0, 1, 2],
                     supply=supply.tolist())
    oracle = Oracle(inputs, pack=np.ones(2), weight=np.ones(6))
    out = simulate(inputs, decide=oracle)
    assert out.sold == pytest.approx(oracle.bound)  # proven optimal: nobody sells more
    # lead-0 nodes can take every unit, so only what lands after the end is unsold
    assert out.sold == supply.sum() - out.central_stock[-1] - out.node_stock[-1]
    assert out.sold >= supply.sum() - supply[:, -1].sum()


def test_packs_and_supply_are_never_exceeded() -> None:
    rng = np.random.default_rng(2)
    demand = rng.poisson(3.0, (4, 15)).astype(float)
    inputs = channel(demand.tolist(), group=[0, 0, 1, 1], lead=[1, 0, 2, 1],
                     supply=rng.poisson(6.0, (2, 15)).astype(float).tolist(), review=2)
    out, seen = run_oracle(inputs, pack=[4, 3])
    ship = np.vstack([s[:, 0] for s in seen])
    assert (ship >= 0).all()
    np.testing.assert_allclose(ship % np.array([4, 4, 3, 3]), 0.0)
    for s in seen:
        total = np.bincount(inputs.group, weights=s[:, 0])
        assert (total <= s[np.r_[0, 2], 1] + 1e-9).all()
    assert out.sold <= out.demand


def test_packs_go_where_they_sell_whole() -> None:
    # one pack of 4: node 0 sells 1 unit, node 1 sells 4 (later): the plan sends it to node 1
    inputs = channel([[1, 0, 0], [0, 2, 2]], group=[0, 0], lead=[0, 0], supply=[[4, 0, 0]])
    out, seen = run_oracle(inputs, pack=[4])
    assert out.sold == 4.0 and np.sum([s[:, 0] for s in seen], axis=0).tolist() == [0.0, 4.0]


def test_priority_weights_rank_the_nodes() -> None:
    inputs = channel([[3, 0], [3, 0]], group=[0, 0], lead=[0, 0], supply=[[3, 0]])
    _, seen = run_oracle(inputs, pack=[1], weight=np.array([0.5, 1.0]))
    assert seen[0][:, 0].tolist() == [0.0, 3.0]


def test_without_a_plan_in_time_the_candidates_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded machine: HiGHS finds no plan in its time: the oracle ships the best
    candidate per sku, and its bound is still an upper bound."""
    import training.policy.oracle as oracle_module

    class NoPlan:
        x = None
        mip_dual_bound = None
        message = "Time limit reached."

    monkeypatch.setattr(oracle_module, "milp", lambda *_a, **_k: NoPlan())
    inputs = channel([[2, 3, 1, 4], [5, 0, 2, 2]], group=[0, 0], lead=[0, 0],
                     supply=[[20, 0, 0, 0]])
    candidate = np.zeros((2, 4))
    candidate[:, 0] = [10, 9]
    oracle = Oracle(inputs, pack=np.ones(1), weight=np.ones(2), candidates=(candidate,))
    out = simulate(inputs, decide=oracle)
    assert out.sold == 19.0 and oracle.bound >= out.sold


def test_the_plan_is_reproducible_and_bounded_by_work_not_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Packs make HiGHS stop short of the optimum: where it stops is a work limit (nodes),
    not a clock, so two runs give the same plan and bound whatever the machine's load."""
    import training.policy.oracle as oracle_module

    options: list[dict[str, float]] = []
    real = oracle_module.milp

    def watched(*args: Any, **kwargs: Any) -> Any:
        options.append(dict(kwargs["options"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(oracle_module, "milp", watched)
    rng = np.random.default_rng(7)
    demand = rng.poisson(2.0, (8, 30)).astype(float)
    inputs = channel(demand.tolist(), group=[0] * 4 + [1] * 4, lead=[1, 2, 3, 1, 2, 3, 1, 2],
                     supply=np.floor(0.8 * np.vstack([demand[:4].sum(axis=0),
                                                      demand[4:].sum(axis=0)])).tolist())
    first, second = (Oracle(inputs, pack=np.array([6.0, 12.0]), weight=np.ones(8))
                     for _ in range(2))
    np.testing.assert_array_equal(first.plan, second.plan)
    assert first.bound == second.bound
    assert options and all("time_limit" not in o and o["node_limit"] >= 1 for o in options)
    assert simulate(inputs, decide=first).sold <= first.bound + 1e-9
