"""Domain errors of the features layer."""

from __future__ import annotations

__all__ = ["DataContractError"]


class DataContractError(ValueError):
    """Input data breaks the data contract (the files and columns of `features.schema`).

    The message names the file, the row and the column where it can, and what to do.
    """
