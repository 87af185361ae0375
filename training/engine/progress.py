"""Progress of long steps (fits, backtest windows, policy replay, Dask phases) on stderr.

Library functions take `progress: bool = False` and stay silent unless an entry point asks;
the entry points turn it on unless `--quiet` is given (`channelcast.args`). On a terminal
a bar redraws twice a second; in a log or a pipe it writes a line at most every
`LOG_INTERVAL` seconds (plus the first and the last), so CI logs are not flooded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from typing import Any, TypeVar

from tqdm import tqdm

__all__ = ["LOG_INTERVAL", "bar", "steps"]

T = TypeVar("T")

TTY_INTERVAL = 0.5
LOG_INTERVAL = 30.0


def bar(*, desc: str, total: int | None, enabled: bool, unit: str = "step") -> Any:
    """A progress bar to `update()` by hand (a no-op object when not `enabled`)."""
    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                mininterval=TTY_INTERVAL if interactive else LOG_INTERVAL,
                dynamic_ncols=interactive, ascii=not interactive, leave=True)


def steps(iterable: Iterable[T], *, desc: str, enabled: bool, total: int | None = None,
          unit: str = "step") -> Iterator[T]:
    """Iterate `iterable`, showing its progress when `enabled` (else the plain iterator)."""
    if not enabled:
        return iter(iterable)
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    return _shown(iterable, bar(desc=desc, total=total, enabled=True, unit=unit))


def _shown(iterable: Iterable[T], shown: Any) -> Iterator[T]:
    with shown:
        for item in iterable:
            yield item
            shown.update()

