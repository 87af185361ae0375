"""Monthly channel reports inside the service: generated when a month closes, stored, listed.

When sell-through dated in a new month arrives (`ReportService.submit`, called after
`POST /v1/sell-through` answered) or the periodic check runs, one background thread per
process looks for the last closed month (the month before the latest period the service
holds) and, where it has no report yet, builds it with `serving.report.build_report` on
what the service holds (the served model's sell-through and the node table, as the alert
monitor reads them) and the allocations of the service's own database. The HTML and PDF go
under `Settings.reports_folder`; a `reports` row records month, language, status, the
files and, when WeasyPrint could not render the PDF, why. The unique (month, lang) row
keeps two workers from generating the same report twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from fastapi import Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from features.schema import DATE
from serving.monitor import AlertMonitor
from serving.report import available_months, build_report
from serving.report.render import write_pdf
from serving.tables import ReportRow, utcnow

__all__ = ["ReportService", "closed_month", "needs_redo", "reports_of"]

log = logging.getLogger("channelcast.serving")
FIRST_CHECK_SECONDS = 60.0
ALERTS_FIRST_SECONDS = 120.0  # a report waits this long at most for queued alert runs
STALE_SECONDS = 3600.0  # a row `generating` for longer was left by a worker that died
GENERATING, READY, FAILED = "generating", "ready", "failed"
PERIODIC = "periodic check"
Job = tuple[str, str, str]  # (month or "" for a check, lang, trigger)


def reports_of(request: Request) -> ReportService:
    """The app's report service (set by `serving.app.create_app`)."""
    reports: ReportService = request.app.state.reports  # Starlette's app state is untyped
    return reports


def closed_month(sell_through: pd.DataFrame) -> str | None:
    """The last closed month: the one before the month of the latest period, if it has
    data (None otherwise)."""
    if sell_through.empty:
        return None
    latest = pd.Timestamp(pd.to_datetime(sell_through[DATE]).max()).to_period("M")
    month = str(latest - 1)
    return month if month in set(available_months(sell_through)) else None


def needs_redo(row: ReportRow, *, failed: bool = True, now: datetime | None = None) -> bool:
    """Whether a check should build `row`'s report again: it failed (when `failed`), or it
    has been `generating` for longer than `STALE_SECONDS` (its worker died mid-way)."""
    if row.status == FAILED:
        return failed
    if row.status != GENERATING:
        return False
    if row.generated_at is None:
        return True
    started = row.generated_at if row.generated_at.tzinfo else \
        row.generated_at.replace(tzinfo=UTC)  # SQLite drops the zone
    return ((now or utcnow()) - started).total_seconds() > STALE_SECONDS


class ReportService:
    """Report generation in a background thread, the periodic check, the stored reports."""

    def __init__(self, monitor: AlertMonitor) -> None:
        self.monitor = monitor
        self.service = monitor.service
        self.settings = monitor.service.settings
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the generating thread and the periodic check (when enabled)."""
        self._stopping.clear()
        self._threads = [threading.Thread(target=self._run, name="channelcast-reports",
                                          daemon=True)]
        if self.settings.report_check_seconds > 0:
            self._threads.append(threading.Thread(target=self._check_daily, daemon=True,
                                                  name="channelcast-report-check"))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the threads (a report being generated is finished first)."""
        self._stopping.set()
        if self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads = []

    def join(self) -> None:
        """Wait until every queued check and report is done (tests, benchmarks)."""
        self._queue.join()

    def submit(self, periods: Iterable[date], trigger: str) -> None:
        """Look for a newly closed month after sell-through of `periods` (returns at once)."""
        if any(True for _ in periods):
            self._queue.put(("", "", trigger))

    def _check_daily(self) -> None:
        wait = min(FIRST_CHECK_SECONDS, self.settings.report_check_seconds)
        while not self._stopping.wait(wait):
            self._queue.put(("", "", PERIODIC))
            wait = self.settings.report_check_seconds

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                month, lang, trigger = job
                self.monitor.idle(timeout=ALERTS_FIRST_SECONDS)  # alerts are the urgent work
                if month:
                    self.generate(month, lang=lang, trigger=trigger)
                else:
                    self.check(trigger)
            except Exception as exc:  # keep serving; the report row says what failed
                log.error("report job %s failed: %s", job, exc)
            finally:
                self._queue.task_done()

    # --- what there is ----------------------------------------------------------------------

    def data(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(sell-through, nodes) the service holds (see `AlertMonitor.data`)."""
        return self.monitor.data()

    def months_with_data(self) -> list[str]:
        """The months (YYYY-MM) the held sell-through has rows in."""
        dates = self.monitor.held_dates()
        return [] if dates is None else list(available_months(dates.to_frame()))

    def rows(self) -> list[ReportRow]:
        """Every stored report, newest month first."""
        with self.service.db.session() as session:
            found = session.scalars(select(ReportRow).order_by(ReportRow.month.desc(),
                                                               ReportRow.lang))
            return list(found)

    def row(self, month: str, lang: str) -> ReportRow | None:
        """The report of `month` in `lang`, if any."""
        with self.service.db.session() as session:
            return session.scalars(select(ReportRow).where(
                ReportRow.month == month, ReportRow.lang == lang)).first()

    # --- generating -------------------------------------------------------------------------

    def check(self, trigger: str) -> list[str]:
        """Generate the last closed month's reports that are missing or left `generating` by
        a worker that died (older than `STALE_SECONDS`), and on the periodic check those that
        failed; returns what was made."""
        dates = self.monitor.held_dates()
        month = None if dates is None else closed_month(dates.to_frame())
        if month is None:
            return []
        made = []
        for lang in self.settings.report_langs:
            row = self.row(month, lang)
            if row is None or needs_redo(row, failed=trigger == PERIODIC):
                self.generate(month, lang=lang, trigger=trigger, again=row is not None)
                made.append(f"{month} {lang}")
        return made

    def request(self, month: str, *, lang: str, by: str) -> ReportRow:
        """Queue (re)generating `month` in `lang`; the row says `generating` until done."""
        row = self._claim(month, lang, f"requested by {by}"[:64], again=True)
        assert row is not None  # claiming again always returns the row
        self._queue.put((month, lang, row.trigger))
        return row

    def generate(self, month: str, *, lang: str, trigger: str,
                 again: bool = False) -> ReportRow | None:
        """Build, write and record the report of `month` in `lang` now (`again`: over an
        existing row); None when another worker claimed it first."""
        row = self._claim(month, lang, trigger[:64],
                          again=again or trigger.startswith("requested"))
        if row is None:
            return None
        data = self.data()
        if data is None:
            return self._finish(row, status=FAILED, error="no model with sell-through history "
                                "is loaded (GET /readyz says why); nothing to report on.")
        folder = self.settings.reports_folder
        html = folder / f"channel-report-{month}-{lang}.html"
        try:
            report = build_report(data[0], data[1], month, lang=lang, source="service",
                                  database_url=self.settings.database_url)
            report.write(html)
        except Exception as exc:
            return self._finish(row, status=FAILED, error=f"{type(exc).__name__}: {exc}")
        pdf: Path | None = folder / f"channel-report-{month}-{lang}.pdf"
        pdf_error = None
        try:
            write_pdf(report.html, pdf)  # type: ignore[arg-type]  # set just above
        except (ImportError, OSError) as exc:  # WeasyPrint without Debian's pango
            pdf, pdf_error = None, (f"the PDF could not be rendered: {exc}; WeasyPrint needs "
                                    "libpango-1.0-0 and libpangoft2-1.0-0")
        log.info("report %s (%s) written to %s", month, lang, html)
        return self._finish(row, status=READY, html=html, pdf=pdf, pdf_error=pdf_error)

    def _claim(self, month: str, lang: str, trigger: str, *, again: bool) -> ReportRow | None:
        """The row marked `generating`: a new one, or (`again`) the existing one reset."""
        try:
            with self.service.db.session() as session:
                row = session.scalars(select(ReportRow).where(
                    ReportRow.month == month, ReportRow.lang == lang)).first()
                if row is not None and not again:
                    return None
                row = row or ReportRow(month=month, lang=lang)
                row.status, row.trigger, row.error = GENERATING, trigger, None
                row.generated_at = utcnow()  # while generating: when it started
                session.add(row)
                session.flush()
                return row
        except IntegrityError:  # another worker inserted it a moment ago
            return None

    def _finish(self, row: ReportRow, *, status: str, html: Path | None = None,
                pdf: Path | None = None, pdf_error: str | None = None,
                error: str | None = None) -> ReportRow:
        row.status, row.error, row.pdf_error = status, error, pdf_error
        row.html_path = None if html is None else str(html)
        row.pdf_path = None if pdf is None else str(pdf)
        row.generated_at = utcnow()
        with self.service.db.session() as session:
            row = session.merge(row)
        if error:
            log.error("report %s (%s) failed: %s", row.month, row.lang, error)
        return row
