"""Allocation speed: channelcast's `allocate` against an exact MILP (HiGHS) on the same problems.

Usage:
    .venv/bin/python benchmarks/allocation.py [--milp-skus 20] [--repeats 5]

Cases (issue 5): one sku over 10,000 nodes (goal < 100 ms) and 1,000 skus x 500 nodes
(goal < 10 s), each with two priority tiers, pack sizes, minimums, maximums and capacities,
stock at about 40% of need. Times are wall seconds of the public call on frames
(`allocate` / `allocate_all`: limits, optimisation and explanations), median of `--repeats`;
the optimiser alone is shown beside. The MILP is the piecewise-linear model of
tests/models/allocation/cases.py, solved by scipy's HiGHS `milp`; for 1,000 skus it runs on
`--milp-skus` of them and is scaled up (stated in the output).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from models.allocation import AllocationRequest, allocate_all, limits_problem  # noqa: E402
from models.allocation.kernel import PackProblem, objective, solve  # noqa: E402
from models.allocation.table import limits_frame  # noqa: E402
from models.demand_interval import IntervalDemand  # noqa: E402
from tests.models.allocation.cases import make_demand, milp_optimum  # noqa: E402


def network(n_nodes: int, n_skus: int, seed: int) -> tuple[IntervalDemand, pd.DataFrame,
                                                            pd.DataFrame, list[AllocationRequest]]:
    """Demand, nodes, inventory and requests for n_skus skus sold at the same n_nodes nodes."""
    rng = np.random.default_rng(seed)
    parts, inv, requests = [], [], []
    names = [f"N{i}" for i in range(n_nodes)]
    for s in range(n_skus):
        sku = f"S{s}"
        d = make_demand(rng, n_nodes, sku=sku)
        parts.append(d)
        pack = int(rng.choice([1, 2, 6, 12]))
        on_hand = np.floor(d.mean * rng.uniform(0, 0.8, n_nodes))
        mins = np.where(rng.random(n_nodes) < 0.1, pack, np.nan)
        maxs = np.where(rng.random(n_nodes) < 0.3, pack * rng.integers(2, 20, n_nodes), np.nan)
        inv.append(pd.DataFrame({"node_id": names, "sku": sku, "on_hand": on_hand,
                                 "in_transit": 0.0, "as_of": pd.Timestamp("2024-01-01"),
                                 "min_qty": mins, "max_qty": maxs}))
        need = np.clip(d.quantile(0.9) - on_hand, 0, None).sum()
        requests.append(AllocationRequest(sku=sku, available=float(np.nansum(mins) + 0.4 * need),
                                          pack_size=pack))
    demand = IntervalDemand(keys=pd.concat([p.keys for p in parts], ignore_index=True),
                            mean=np.concatenate([p.mean for p in parts]),
                            periods=np.concatenate([p.periods for p in parts]),
                            levels=parts[0].levels, values=np.vstack([p.values for p in parts]))
    inventory = pd.concat(inv, ignore_index=True)
    load = inventory.groupby("node_id")["on_hand"].sum().reindex(names).to_numpy()
    capacity = np.where(rng.random(n_nodes) < 0.3, load + 50 * n_skus, np.nan)
    nodes = pd.DataFrame({"node_id": names, "parent_id": None, "channel": "dealer",
                          "lead_time_days": 7, "review_period_days": 7,
                          "priority": rng.integers(1, 3, n_nodes), "capacity": capacity})
    return demand, nodes, inventory, requests


def _median_time(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def run_case(n_nodes: int, n_skus: int, *, repeats: int, milp_skus: int) -> dict[str, object]:
    demand, nodes, inventory, requests = network(n_nodes, n_skus, seed=n_nodes + n_skus)

    def public() -> pd.DataFrame:
        return allocate_all(demand, requests=requests, nodes=nodes, inventory=inventory)

    wall = _median_time(public, repeats)
    lim = limits_frame(demand, requests=requests, nodes=nodes, inventory=inventory)
    from models.allocation import AllocationConfig

    problem = limits_problem(demand, lim, requests, AllocationConfig())
    kernel = _median_time(lambda: solve(problem), repeats)
    ours = objective(problem, solve(problem).packs)
    milp_s, gap, solved = _milp(problem, ours, min(milp_skus, n_skus))
    return {"case": f"{n_skus:,} sku x {n_nodes:,} nodes", "allocate_s": round(wall, 3),
            "optimiser_s": round(kernel, 3), "milp_s": milp_s, "milp_skus": solved,
            "max_gap_vs_milp": gap}


def _milp(p: PackProblem, ours: np.ndarray, n_skus: int) -> tuple[float, float, int]:
    """MILP time for `n_skus` skus, scaled to all of them, and the worst objective gap."""
    total, gaps = 0.0, []
    for g in range(n_skus):
        rows = np.flatnonzero(p.group == g)
        sub = replace(p, demand=p.demand.take(rows, with_keys=False),
                      group=np.zeros(rows.size, np.int64),
                      **{f: getattr(p, f)[rows] for f in ("position", "pack", "lo", "hi",
                                                          "weight", "priority", "target",
                                                          "floor")},
                      budget=p.budget[g:g + 1])
        sub = replace(sub, hi=np.minimum(sub.hi, _useful_packs(sub)))
        began = time.perf_counter()
        best, _ = milp_optimum(sub, time_limit=600)
        total += time.perf_counter() - began
        gaps.append((best - ours[g]) / max(abs(best), 1e-9))
    scale = len(p.budget) / n_skus
    return round(total * scale, 2), float(max(gaps)), n_skus


def _useful_packs(p: object) -> np.ndarray:
    """Packs worth anything (below the demand's upper end): caps the MILP's segments."""
    top = p.demand.values[:, -1]  # type: ignore[attr-defined]
    need = np.ceil((top - p.position) / p.pack)  # type: ignore[attr-defined]
    return np.maximum(p.lo, need).astype(np.int64)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--milp-skus", type=int, default=20)
    args = parser.parse_args()
    rows = [run_case(10_000, 1, repeats=args.repeats, milp_skus=1),
            run_case(500, 1_000, repeats=max(1, args.repeats // 2), milp_skus=args.milp_skus)]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    print(f"\nMILP for 1,000 skus: measured on {args.milp_skus} skus and scaled x"
          f"{1000 / args.milp_skus:g}. Goals: 10,000 nodes < 0.1 s; 1,000 x 500 < 10 s.")


if __name__ == "__main__":
    main()
