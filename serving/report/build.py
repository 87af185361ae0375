"""The monthly channel report end to end: numbers, words, HTML (and PDF on request)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from serving.report.content import ReportContent, report_content
from serving.report.decisions import month_allocations
from serving.report.i18n import words
from serving.report.render import render_html, summary, write_pdf

__all__ = ["Report", "build_report"]


class Report:
    """A rendered report: its content (numbers), its two-sentence summary and its HTML."""

    def __init__(self, content: ReportContent, summary: list[str], html: str) -> None:
        """Keep the numbers next to the document made from them."""
        self.content = content
        self.summary = summary
        self.html = html

    def write(self, out: Path, pdf: Path | None = None) -> int | None:
        """Write the HTML (and the PDF when asked); returns the PDF's page count."""
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.html, encoding="utf-8")
        if pdf is None:
            return None
        pdf.parent.mkdir(parents=True, exist_ok=True)
        return write_pdf(self.html, pdf)


def build_report(sell_through: pd.DataFrame, nodes: pd.DataFrame, month: str, *,
                 lang: str = "en", source: str = "", database_url: str | None = None,
                 progress: bool = False) -> Report:
    """The report of `month` (YYYY-MM) in `lang` (en or zh).

    Raises:
        ValueError: a month without data (naming the months with data) or another language.
    """
    w = words(lang)
    content = report_content(sell_through, nodes, month, progress=progress)
    decisions = None
    if database_url:
        decisions = month_allocations(database_url, content.month, sell_through, w)
    html = render_html(content, w, source=source, decisions=decisions)
    return Report(content, summary(content, w), html)
