"""Money columns of the policy backtest, against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from training.policy.money import money_columns, unit_money
from training.policy.sim import SimInputs, simulate


def test_money_columns_equal_the_hand_computation() -> None:
    # two nodes of one sku, lead 0, review 1; the policy ships 3 units to node 0 in period 0
    inputs = SimInputs(demand=np.array([[2.0, 2.0], [1.0, 0.0]]), group=np.zeros(2, np.int64),
                       lead=np.zeros(2, np.int64), review=1, supply=np.array([[5.0, 0.0]]),
                       initial=np.array([0.0, 0.0]))

    def decide(t: int, _position: np.ndarray, _central: np.ndarray) -> np.ndarray:
        return np.array([3.0, 0.0]) if t == 0 else np.zeros(2)

    out = simulate(inputs, decide=decide)
    # node 0: 3 on hand, sells 2 (1 left), then sells 1 and loses 1; node 1 loses 1
    # central: 2 units at the end of both periods; node 0 holds 1 then 0
    assert out.series_lost.tolist() == [1.0, 1.0]
    money = unit_money(np.array([10.0, np.nan]), np.array([np.nan, 4.0]),
                       group=inputs.group, n_skus=1, margin_rate=0.3)
    assert money.price.tolist() == [10.0, 10.0]  # node 1 takes its sku's mean price
    assert money.margin.tolist() == [3.0, 4.0]  # margin_rate x price where none is given
    cols = money_columns(out, money, holding_rate=0.01)
    assert cols["lost_margin"] == pytest.approx(1 * 3.0 + 1 * 4.0)
    assert cols["node_holding_cost"] == pytest.approx(0.01 * 10.0 * (1 + 0))
    assert cols["holding_cost"] == pytest.approx(0.01 * 10.0 * (1 + 0 + 2 + 2))
    assert cols["cost"] == pytest.approx(7.0 + 0.5)


def test_without_prices_a_unit_is_worth_one() -> None:
    money = unit_money(None, None, group=np.array([0, 1, 1]), n_skus=3, margin_rate=0.25)
    assert money.price.tolist() == [1.0] * 3 and money.margin.tolist() == [0.25] * 3
    assert money.sku_price.tolist() == [1.0] * 3
    with pytest.raises(ValueError, match="margin_rate"):
        unit_money(None, None, group=np.array([0]), n_skus=1, margin_rate=-1.0)
