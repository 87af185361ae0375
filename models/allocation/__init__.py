"""Allocation of central stock across nodes: requests, the optimiser, fair share, overrides."""

from features.config import AllocationConfig
from models.allocation.equal_cover import fair_share_packs, recent_sales_rate
from models.allocation.override import (
    BOUND_TEXT,
    edited_reason,
    line_reason,
    line_records,
    off_pack,
    over_available,
    override_lines,
    unknown_lines,
)
from models.allocation.policies import (
    POLICIES,
    allocate,
    allocate_all,
    fair_share,
    limits_problem,
    pack_problem,
)
from models.allocation.request import (
    HOLDING_RATE,
    MARGIN_RATE,
    OBJECTIVES,
    AllocationRequest,
    priced,
)
from models.allocation.table import COLUMNS

__all__ = [
    "BOUND_TEXT",
    "COLUMNS",
    "HOLDING_RATE",
    "MARGIN_RATE",
    "OBJECTIVES",
    "POLICIES",
    "AllocationConfig",
    "AllocationRequest",
    "allocate",
    "allocate_all",
    "edited_reason",
    "fair_share",
    "fair_share_packs",
    "limits_problem",
    "line_reason",
    "line_records",
    "off_pack",
    "over_available",
    "override_lines",
    "pack_problem",
    "priced",
    "recent_sales_rate",
    "unknown_lines",
]
