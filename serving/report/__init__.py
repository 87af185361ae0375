"""The monthly channel report: KPIs, health, alerts, forecasts and decisions of one month as
one self-contained HTML file (Jinja2, inline CSS and SVG) and as PDF (WeasyPrint)."""

from serving.report.build import Report, build_report
from serving.report.content import available_months, last_full_month

__all__ = ["Report", "available_months", "build_report", "last_full_month"]
