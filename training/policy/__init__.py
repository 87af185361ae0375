"""Policy replay: allocate with each policy on history and compare fill rate and lost sales."""

from training.policy.backtest import PolicyBacktestConfig, run_policy_backtest

__all__ = ["PolicyBacktestConfig", "run_policy_backtest"]
