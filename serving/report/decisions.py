"""The month's allocations and decisions from the service's database (serving's tables)."""

from __future__ import annotations

from datetime import UTC

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.schema import DATE, ITEM, NODE, UNITS
from serving.db import make_engine
from serving.report.i18n import Words
from serving.tables import AllocationRow

__all__ = ["month_allocations"]


def _fill(lines: list[dict[str, object]], sold: pd.Series) -> float:
    """Realised fill: units sold in the month at the lines' node x sku over units approved,
    capped at 1 per line (NaN when nothing was approved)."""
    approved = sum(float(str(line.get("allocated", 0.0))) for line in lines)
    if approved <= 0:
        return float("nan")
    used = sum(min(float(str(line.get("allocated", 0.0))),
                   float(sold.get((str(line.get(NODE)), str(line.get(ITEM))), 0.0)))
               for line in lines)
    return used / approved


def month_allocations(url: str, month: str, sell_through: pd.DataFrame, words: Words
                      ) -> list[list[str]]:
    """One row per allocation created in `month`: sku, status, proposed and approved units,
    who decided, realised fill (from the month's sell-through)."""
    period = pd.Period(month, freq="M")
    start = period.start_time.to_pydatetime().replace(tzinfo=UTC)
    end = (period + 1).start_time.to_pydatetime().replace(tzinfo=UTC)
    dates = pd.to_datetime(sell_through[DATE]).dt.to_period("M")
    inside = sell_through[dates == period]
    sold = inside.groupby([inside[NODE].astype(str), inside[ITEM].astype(str)])[UNITS].sum()
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(AllocationRow).where(
                AllocationRow.created_at >= start, AllocationRow.created_at < end).order_by(
                AllocationRow.id)).all()
            out = []
            for row in rows:
                lines = list(row.lines or [])
                proposed = sum(float(line.get("proposed", line.get("allocated", 0.0)))
                               for line in lines)
                allocated = sum(float(line.get("allocated", 0.0)) for line in lines)
                approved = row.status == "approved"
                out.append([row.sku, words.term(row.status), words.num(proposed),
                            words.num(allocated) if approved else "–",
                            row.decided_by or "–",
                            words.share(_fill(lines, sold)) if approved else "–"])
    finally:
        engine.dispose()
    return out


