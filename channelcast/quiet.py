"""`--quiet`, in a module of its own so `channelcast --help` imports nothing heavy."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_quiet_argument"]


def add_quiet_argument(parser: argparse.ArgumentParser, *, default: Any = False) -> None:
    """`--quiet`: no progress bars on stderr (results on stdout are unchanged)."""
    parser.add_argument("--quiet", "-q", action="store_true", default=default,
                        help="do not show the progress of long steps on stderr")
