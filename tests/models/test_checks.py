"""Argument checks: the message names the argument and what it got."""

from __future__ import annotations

import numpy as np
import pytest

from models.checks import positive_int, unit_interval


@pytest.mark.parametrize("value", [0, -3, 1.5, True, "2", None])
def test_positive_int_refuses_anything_but_a_positive_integer(value: object) -> None:
    with pytest.raises(ValueError, match=r"`horizon` must be a positive integer; got"):
        positive_int("horizon", value)


def test_positive_int_accepts_numpy_integers() -> None:
    assert positive_int("window", np.int64(4)) == 4


@pytest.mark.parametrize("value", [0.0, 1.01, -0.2, True, "0.5"])
def test_unit_interval_refuses_values_outside_zero_one(value: object) -> None:
    with pytest.raises(ValueError, match=r"`alpha` must be a float in \(0, 1\]; got"):
        unit_interval("alpha", value)


def test_unit_interval_accepts_one() -> None:
    assert unit_interval("alpha", 1) == 1.0
