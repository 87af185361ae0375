"""Argument checks shared by the forecasters: each names the argument and what it got."""

from __future__ import annotations

from numbers import Integral, Real

__all__ = ["positive_int", "unit_interval"]


def positive_int(name: str, value: object) -> int:
    """`value` as an int if a positive integer (not a bool); else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def unit_interval(name: str, value: object) -> float:
    """`value` as a float if it is in (0, 1], else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"`{name}` must be a float in (0, 1]; got {value!r}.")
    return float(value)
