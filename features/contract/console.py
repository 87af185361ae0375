"""The console report's lines: what a dependent problem adds up to, and the row accounting."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["accounting_table", "dependents_line"]


def dependents_line(part: pd.DataFrame, labels: dict[str, str]) -> str:
    """E.g. "... and 3 nodes below it; 1,204 sell-through rows of 4 nodes (refused because...)"."""
    below, other = [], []
    for file, rows, nodes, in_root_file in zip(part["file"], part["rows"], part["nodes"],
                                               part["file"] == part["root_file"], strict=True):
        if in_root_file:  # nodes refused because an ancestor was
            below.append(f"{int(rows):,} {_plural(int(rows), 'node')} below it")
        else:
            label = labels.get(file, file).replace("_", "-")
            other.append(f"{int(rows):,} {label} {_plural(int(rows), 'row')} of "
                         f"{int(nodes):,} {_plural(int(nodes), 'node')}")
    if not below and len(other) == len(part) and (part["nodes"] == 1).all():
        other = [o.removesuffix(" of 1 node") + " of this node" for o in other]
    segments = below + other
    return f"... and {'; '.join(segments)}, refused because of this row"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def accounting_table(counts: Iterable[tuple[str, int, int, int]]) -> str:
    """The row accounting: one line per (file, read, accepted, refused), under a header."""
    counts = list(counts)
    width = max([len("file")] + [len(file) for file, *_ in counts])
    out = [f"{'file':<{width}} {'read':>12} {'accepted':>12} {'refused':>12}"]
    for file, read, accepted, refused in counts:
        assert accepted + refused == read, (file, read, accepted, refused)
        out.append(f"{file:<{width}} {read:>12,} {accepted:>12,} {refused:>12,}")
    return "\n".join(out)
