"""Progress on stderr: silent unless enabled; the policy replay ticks once per period."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from channelcast.args import add_quiet_argument
from training.engine.progress import bar, steps
from training.policy.sim import SimInputs, simulate


def test_steps_disabled_is_the_plain_iteration_and_silent(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert list(steps(range(4), desc="fits", enabled=False)) == [0, 1, 2, 3]
    with bar(desc="fits", total=4, enabled=False) as shown:
        shown.update(4)
    assert capsys.readouterr() == ("", "")


def test_steps_enabled_writes_the_count_to_stderr_only(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert list(steps(["a", "b", "c"], desc="windows", enabled=True)) == ["a", "b", "c"]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "windows" in captured.err and "3/3" in captured.err


def test_quiet_flag() -> None:
    parser = argparse.ArgumentParser()
    add_quiet_argument(parser)
    assert parser.parse_args([]).quiet is False
    assert parser.parse_args(["--quiet"]).quiet is True


def test_simulate_calls_on_period_once_per_period() -> None:
    periods = 5
    inputs = SimInputs(demand=np.ones((2, periods)), group=np.zeros(2, np.int64),
                       lead=np.zeros(2, np.int64), review=1, supply=np.ones((1, periods)),
                       initial=np.zeros(2))
    calls: list[int] = []
    simulate(inputs, decide=lambda *_: np.zeros(2),
             on_period=lambda: calls.append(1))
    assert len(calls) == periods
