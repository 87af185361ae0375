"""The report's charts as inline SVG (matplotlib, text kept as text so CJK fonts apply)."""

from __future__ import annotations

import io
import math
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from features.schema import CHANNEL  # noqa: E402

__all__ = ["band_chart"]

# Text stays text in the SVG: the browser or WeasyPrint draws CJK labels with a CJK font
# from fontconfig (matplotlib only measures them, hence the glyph warnings filtered below).


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def band_chart(band: pd.DataFrame, labels: dict[str, str]) -> str:
    """Actual vs forecast with the 80% band, one small panel per channel (SVG text)."""
    channels = list(dict.fromkeys(band[CHANNEL]))
    if not channels:
        return ""
    cols = min(3, len(channels))
    rows = math.ceil(len(channels) / cols)
    with plt.rc_context({"svg.fonttype": "none", "font.size": 8,
                         "font.family": "DejaVu Sans"}):
        fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows), squeeze=False,
                                 sharex=True)
        for ax, name in zip(axes.flat, channels, strict=False):
            part = band[band[CHANNEL] == name]
            ax.fill_between(part["date"], part["lo80"], part["hi80"], color="#9ecae1",
                            alpha=0.6, label=labels["band"], linewidth=0)
            ax.plot(part["date"], part["forecast"], color="#3182bd", linewidth=1,
                    label=labels["forecast"])
            ax.plot(part["date"], part["actual"], color="#222222", marker="o", markersize=2,
                    linewidth=1, label=labels["actual"])
            month = part[part["in_month"]]
            if len(month):
                ax.axvspan(month["date"].min(), month["date"].max(), color="#fdd0a2",
                           alpha=0.35, linewidth=0)
            ax.set_title(name or "–", fontsize=8)
            ax.tick_params(axis="x", labelrotation=45, labelsize=6)
            ax.tick_params(axis="y", labelsize=6)
            ax.set_ylim(bottom=0)
        for ax in list(axes.flat)[len(channels):]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=6, frameon=False, loc="lower left")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            fig.tight_layout()
        return _svg(fig)
