"""Monthly channel reports (planner): list them, read one as HTML or PDF (by `Accept`),
(re)generate one. The service also generates last month's report by itself when a month
closes (`serving.reports`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from serving.deps import PlannerDep
from serving.errors import ERROR_RESPONSES, ApiError, documented
from serving.reports import READY, reports_of
from serving.schemas.reports import ReportLang, ReportList, ReportOut
from serving.tables import ReportRow, as_utc

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["reports"], responses=ERROR_RESPONSES)
Month = Annotated[str, PathParam(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
MEDIA = {"html": "text/html", "pdf": "application/pdf"}


def _out(row: ReportRow) -> ReportOut:
    formats = [f for f, path in (("html", row.html_path), ("pdf", row.pdf_path))
               if path and row.status == READY]
    return ReportOut(month=row.month, lang=row.lang, status=row.status,  # type: ignore[arg-type]
                     trigger=row.trigger, generated_at=as_utc(row.generated_at),
                     formats=formats, pdf_error=row.pdf_error,  # type: ignore[arg-type]
                     error=row.error)


def negotiate(accept: str | None) -> str | None:
    """`html` or `pdf` as `accept` prefers them (q-values, wildcards; html on a tie or
    without the header); None when it accepts neither."""
    best: tuple[float, int, str] | None = None
    for part in (accept or "text/html").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for rank, (fmt, offered) in enumerate(MEDIA.items()):
            kind = offered.split("/")[0]
            if q > 0 and media.lower() in (offered, f"{kind}/*", "*/*"):
                candidate = (q, -rank, fmt)
                best = candidate if best is None or candidate > best else best
    return None if best is None else best[2]


@router.get("/reports", response_model=ReportList)
async def list_reports(_who: PlannerDep, request: Request) -> ReportList:
    """Generated monthly reports, newest month first, and the months one can be made for."""
    reports = reports_of(request)
    rows, months = await run_in_threadpool(lambda: (reports.rows(), reports.months_with_data()))
    return ReportList(months_with_data=months, reports=[_out(r) for r in rows])


@router.get("/reports/{month}", response_class=FileResponse, responses={
    200: {"description": "the report", "content": {"text/html": {"schema": {"type": "string"}},
                                                   "application/pdf": {"schema": {
                                                       "type": "string",
                                                       "format": "binary"}}}},
    **documented(_404="no report of that month and language (the answer names those there "
                      "are)", _406="`Accept` asks for neither text/html nor application/pdf, "
                               "or for a PDF that could not be rendered (says why)",
                 _409="the report is being generated, or generating it failed (says why)")})
async def read_report(month: Month, _who: PlannerDep, request: Request, lang: ReportLang = "en",
                      accept: Annotated[str | None, Header()] = None) -> FileResponse:
    """One month's report as HTML (default) or PDF (`Accept: application/pdf`)."""
    fmt = negotiate(accept)
    if fmt is None:
        raise ApiError(406, f"cannot send the report as {accept!r}: ask for text/html "
                       "(default) or application/pdf in the Accept header.")
    reports = reports_of(request)
    row = await run_in_threadpool(reports.row, month, lang)
    if row is None:
        there = sorted({f"{r.month} ({r.lang})" for r in await run_in_threadpool(reports.rows)})
        raise ApiError(404, f"no report of {month} in {lang!r}; reports there are: "
                       f"{', '.join(there) or 'none yet'} (POST /v1/reports/{{month}} makes one).")
    if row.status != READY:
        why = f": {row.error}" if row.error else "; try again in a minute"
        raise ApiError(409, f"the report of {month} ({lang}) is {row.status}{why}.")
    path = row.html_path if fmt == "html" else row.pdf_path
    if path is None or not Path(path).is_file():
        reason = row.pdf_error if fmt == "pdf" and row.pdf_error else f"its file {path} is gone"
        raise ApiError(406 if fmt == "pdf" else 409, f"the report of {month} ({lang}) has no "
                       f"{fmt.upper()}: {reason}; POST /v1/reports/{month} generates it again.")
    return FileResponse(path, media_type=MEDIA[fmt], filename=Path(path).name,
                        content_disposition_type="inline")


@router.post("/reports/{month}", response_model=ReportOut, status_code=202,
             responses=documented(_422="no sell-through in that month (the answer names the "
                                       "months with data)"))
async def generate_report(month: Month, who: PlannerDep, request: Request,
                          lang: ReportLang = "en") -> ReportOut:
    """(Re)generate one month's report in the background (planner); the answer's `status`
    is `generating` until GET /v1/reports shows it ready."""
    reports = reports_of(request)
    months = await run_in_threadpool(reports.months_with_data)
    if month not in months:
        raise ApiError(422, f"no sell-through in {month}, so there is no report to make; "
                       f"months with data: {', '.join(months) or 'none (no model with history)'}.")
    row = await run_in_threadpool(lambda: reports.request(month, lang=lang, by=who.name))
    request.state.audit = {"action": "report.generate", "object_id": month,
                           "detail": {"lang": lang}}
    return _out(row)
