"""Monthly channel reports the service generated (list, one report's record)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["ReportFormat", "ReportLang", "ReportList", "ReportOut", "ReportStatus"]

ReportLang = Literal["en", "zh"]
ReportFormat = Literal["html", "pdf"]
ReportStatus = Literal["generating", "ready", "failed"]


class ReportOut(BaseModel):
    month: str = Field(description="YYYY-MM reported")
    lang: ReportLang
    status: ReportStatus
    trigger: str = Field(description="what made it: the sell-through batch that closed the "
                                     "month, the periodic check, or who asked for it")
    generated_at: datetime | None = Field(description="when the files were last written")
    formats: list[ReportFormat] = Field(description="what GET /v1/reports/{month} can send")
    pdf_error: str | None = Field(description="why there is no PDF (the HTML is there)")
    error: str | None = Field(description="why generating failed")


class ReportList(BaseModel):
    months_with_data: list[str] = Field(description="months a report can be generated for")
    reports: list[ReportOut]
