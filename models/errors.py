"""Domain errors of the decision models (allocation, risk); every message says what to do."""

from __future__ import annotations

__all__ = ["InfeasibleAllocationError", "UnknownNodeError"]


class InfeasibleAllocationError(ValueError):
    """The request's hard limits cannot all hold (e.g. minimums need more than is available)."""


class UnknownNodeError(KeyError):
    """A request or table names a node that is not in `nodes` (or has no forecast)."""

    def __str__(self) -> str:
        return str(self.args[0])
