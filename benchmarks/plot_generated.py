"""Plot a sample of generated sell-through next to the true demand behind it.

Run from the repository root: `python -m benchmarks.plot_generated` (or as a file). Writes
`benchmarks/figures/generated_sample.png`: six series of a seeded dataset (five with both
promotions and stock-outs, from different channels, and one intermittent), with units sold,
the uncensored demand (dashed), promotion periods shaded and stock-out periods marked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
if not __package__:  # run as a file: put the repository root, not benchmarks/ (whose
    # features.py would shadow the features package), first on the path
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.schema import CHANNEL, DATE, ITEM, NODE, ON_HAND, PROMO, SERIES_KEY, UNITS  # noqa: E402
from features.synthetic import DEMAND, generate_channel_data  # noqa: E402

FIGURE = Path(__file__).resolve().parent / "figures" / "generated_sample.png"


def pick_series(history: pd.DataFrame) -> list[tuple[str, str]]:
    """Five busy series with promotions and lost sales (spread over channels) and one
    intermittent series."""
    lost = (history[UNITS] < history[DEMAND]).rename("lost")
    stats = history.assign(lost=lost, zero=history[UNITS] == 0).groupby(SERIES_KEY).agg(
        channel=(CHANNEL, "first"), promos=(PROMO, "sum"), lost=("lost", "sum"),
        mean=(UNITS, "mean"), zero=("zero", "mean"), periods=(UNITS, "size"))
    full = stats[stats["periods"] == stats["periods"].max()]
    # typical rather than extreme: a handful of periods with lost sales, not dozens
    busy = full[(full["promos"] >= 4) & full["lost"].between(3, 10) & (full["mean"] >= 3)]
    busy = busy.sort_values("mean", ascending=False)
    chosen: list[tuple[str, str]] = []
    for channel, quota in (("ecommerce", 2), ("retail", 2), ("dealer", 1)):
        chosen += list(busy[busy["channel"] == channel].index[:quota])
    sparse = full[(full["zero"].between(0.6, 0.85)) & (full["promos"] >= 2)]
    chosen += list(sparse.sort_values("mean", ascending=False).index[:1])
    return chosen


def plot(history: pd.DataFrame, series: list[tuple[str, str]], out: Path) -> None:
    """One panel per series: units, true demand, promotions and stock-outs."""
    fig, axes = plt.subplots(len(series), 1, figsize=(12, 2.3 * len(series)), sharex=True)
    for ax, key in zip(np.atleast_1d(axes), series, strict=True):
        one = history[(history[NODE] == key[0]) & (history[ITEM] == key[1])]
        dates = one[DATE].to_numpy()
        half = pd.Timedelta(days=3.5)
        for start in dates[one[PROMO].to_numpy() == 1]:
            ax.axvspan(start - half, start + half, color="tab:orange", alpha=0.25, lw=0)
        ax.plot(dates, one[DEMAND], ls="--", lw=1.0, color="0.45", label="true demand")
        ax.plot(dates, one[UNITS], lw=1.3, color="tab:blue", label="units sold")
        out_of_stock = one[ON_HAND].to_numpy() == 0
        ax.plot(dates[out_of_stock], one[UNITS].to_numpy()[out_of_stock], "v", ms=5,
                color="tab:red", label="stock-out (on hand 0)")
        ax.set_title(f"{key[0]} ({one[CHANNEL].iloc[0]}) / {key[1]}", loc="left", fontsize=9)
        ax.set_ylabel("units / week", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_ylim(bottom=0)
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    handles.append(plt.Rectangle((0, 0), 1, 1, color="tab:orange", alpha=0.25))
    labels.append("promotion")
    fig.legend(handles, labels, loc="upper center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    data = generate_channel_data(nodes=30, skus=80, periods=156, freq="W", seed=7)
    history = data.sell_through.assign(**{DEMAND: data.truth[DEMAND].to_numpy()}).merge(
        data.nodes[[NODE, CHANNEL]], on=NODE, how="left")
    series = pick_series(history)
    plot(history, series, FIGURE)
    print(f"wrote {FIGURE} ({len(series)} series)")


if __name__ == "__main__":
    main()
