"""Channel monitor benchmark (issue 21): injected anomalies on walmart_store_dept, peers, speed.

    .venv/bin/python benchmarks/monitor.py [--peers adtk,ets] [--peer-clean 300] [--scale]

Builds weekly units per store x department from ../shared/data/walmart_store_dept
(units = sales / 10, rounded, negatives as 0; series with all 143 weeks), a consistent stock
flow (order-up-to 3 weeks of the trailing 8-week mean, topped up when a week needs more, so
on_hand = previous on_hand + sell_in - units holds exactly), and a copy with labelled
injections of every kind in the last 40 weeks (features.synthetic.anomalies). It replays
`models.monitor.alerts.replay` over those 40 weeks on both copies and reports per kind and
magnitude two recall readings, and false alerts per 1,000 series-periods (medium or worse)
on the clean copy:
(a) by start, the issue's words: an alert of that kind on the right node/sku STARTING
    (period_start, the first period of its evidence) within 0..2 periods of the onset and
    at medium or worse at some point while open, with the mean and max delay (periods from
    the onset until it was raised at medium or worse);
(b) raised within 2: the alert first at medium or worse within 0..2 periods of the onset
    (stricter on the delay), with its mean delay. Peers on the demand
kinds, on every injected demand series plus `--peer-clean` clean series: ADTK's
LevelShiftAD/PersistAD/SeasonalAD (c = 3, 6, 9) and statsforecast AutoETS 99 / 99.9 / 99.99%
in-sample intervals, so each can be read at a false-alarm rate near ours. With
`--scale`: `replay` over the last 40 of 104 weeks of 30,000 generated series, time and peak
memory of the process. Health index (`health_checks`): stuffed nodes in the bottom quintile the
month after onset; break nodes lower than in the month before the onset's month, (i) in the
onset's month and (ii) in the month after it, each overall and without the labels whose
month before holds another injection on that node, with the explanation check.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from features.synthetic import generate_channel_data  # noqa: E402
from features.synthetic.anomalies import InjectionPlan, inject_anomalies, order_up_to_flow  # noqa: E402
from models.monitor.alerts import detect_alerts, replay  # noqa: E402
from models.monitor.health import COMPONENTS, score_health  # noqa: E402
from models.monitor.kpi import monthly_kpis  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402

WALMART = SHARED_DATA / "walmart_store_dept"
WINDOW = 40
PLAN = InjectionPlan(window=WINDOW, drops=30, spikes=30, mismatches=30, stuffed_nodes=6,
                     silent_nodes=6, min_units=20.0)
DEMAND = ("demand_drop", "demand_spike")
BREAK_CHECKS = (("lower", "scores lower"),
                ("named", "explanation names the component that fell most"),
                ("data_quality", "that component is data_quality"),
                ("mentions", "explanation mentions data_quality at all (fell most or weakest)"))


def load_walmart(root: Path = WALMART) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Walmart store x dept as contract sell_through (with a stock flow) and nodes."""
    raw = pd.read_csv(root / "train.csv.zip", parse_dates=["Date"])
    raw = raw[raw.groupby(["Store", "Dept"])["Date"].transform("size") == raw["Date"].nunique()]
    raw = raw.sort_values(["Store", "Dept", "Date"])
    weeks = raw["Date"].nunique()
    units = np.round(np.clip(raw["Weekly_Sales"].to_numpy(), 0, None) / 10).reshape(-1, weeks)
    sell_in, on_hand = order_up_to_flow(units, cover=3.0)
    frame = pd.DataFrame({
        "date": raw["Date"].to_numpy(), "node_id": [f"W{s:02d}" for s in raw["Store"]],
        "sku": [f"D{d:02d}" for d in raw["Dept"]], "units": units.reshape(-1),
        "price": 10.0, "promo": 0, "on_hand": on_hand.reshape(-1),
        "sell_in": sell_in.reshape(-1)})
    stores = pd.read_csv(root / "stores.csv")
    nodes = pd.DataFrame({"node_id": [f"W{s:02d}" for s in stores["Store"]],
                          "parent_id": [f"TYPE-{t}" for t in stores["Type"]],
                          "channel": "retail", "lead_time_days": 7, "review_period_days": 7,
                          "priority": 1})
    return frame, nodes


def _match(alerts: pd.DataFrame, label: pd.Series) -> tuple[float, float]:
    """Periods from the label's onset until its alert was raised at medium or worse, under
    the two readings (NaN when none): (a) the alert STARTS (period_start, the first period
    of its evidence) 0..2 periods after the onset and reached medium+ while open; (b) it
    first reached medium+ 0..2 periods after the onset."""
    hit = alerts[(alerts["kind"] == label["kind"]) & (alerts["node_id"] == label["node_id"])
                 & (alerts["sku"].fillna("") == label["sku"]) & alerts["serious_on"].notna()]
    start = (pd.to_datetime(hit["period_start"]) - label["onset"]).dt.days / 7
    raised = (pd.to_datetime(hit["serious_on"]) - label["onset"]).dt.days / 7
    by_start = raised[(start >= 0) & (start <= 2)]
    by_raise = raised[(raised >= 0) & (raised <= 2)]
    return (float(by_start.min()) if len(by_start) else np.nan,
            float(by_raise.min()) if len(by_raise) else np.nan)


def _size(label: pd.Series) -> object:
    """The label's magnitude as reported (stock_mismatch by sign, silences as a range)."""
    if label["kind"] == "stock_mismatch":
        return "+" if label["magnitude"] > 0 else "-"
    return "2-5 periods" if label["kind"] == "reporting_gap" else label["magnitude"]


def recall_table(rows: list[dict[str, object]], by: list[str]) -> pd.DataFrame:
    """Both readings per group from rows with `start_delay` and `raise_delay` (NaN = missed)."""
    table = pd.DataFrame(rows)
    return table.groupby(by).agg(
        n=("start_delay", "size"),
        recall_by_start=("start_delay", lambda d: d.notna().mean()),
        start_mean_delay=("start_delay", "mean"), start_max_delay=("start_delay", "max"),
        recall_raised_2=("raise_delay", lambda d: d.notna().mean()),
        raised_mean_delay=("raise_delay", "mean")).reset_index()


def score(alerts: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Both recall readings and their delays per kind and magnitude (`_match`)."""
    rows = []
    for _, label in labels.iterrows():
        start_delay, raise_delay = _match(alerts, label)
        rows.append({"kind": label["kind"], "magnitude": _size(label),
                     "start_delay": start_delay, "raise_delay": raise_delay})
    return recall_table(rows, ["kind", "magnitude"])


def false_alerts(alerts: pd.DataFrame, series: int, periods: int) -> pd.Series:
    """Alerts at medium or worse per 1,000 series-periods, per kind and in total."""
    serious = alerts[alerts["serious_on"].notna()]
    per_kind = serious.groupby("kind").size() * 1000 / (series * periods)
    per_kind["all"] = len(serious) * 1000 / (series * periods)
    return per_kind


def confounded(labels: pd.DataFrame) -> pd.Series:
    """Per label: another label on the same node is in effect (its onset..end) at some time in
    the month before the label's onset month, so that month is not a clean baseline."""
    before = labels["onset"].dt.to_period("M") - 1
    first, last = before.dt.start_time, before.dt.end_time
    return pd.Series([bool(((labels["node_id"] == labels.at[i, "node_id"]) & (labels.index != i)
                            & (labels["onset"] <= last[i]) & (labels["end"] >= first[i])).any())
                      for i in labels.index], index=labels.index)


def fell_most(before: pd.Series, after: pd.Series) -> str:
    """The component whose contribution (points of the index) fell most between two health
    rows of one node, as `health_index` explains a month against the month before it."""
    cols = [f"{c}_contribution" for c in COMPONENTS]
    change = (after[cols].astype(float) - before[cols].astype(float)).fillna(0.0)
    return str(change.idxmin()).removesuffix("_contribution")


def break_rows(labels: pd.DataFrame, table: Callable[[str], pd.DataFrame], shift: int
               ) -> pd.DataFrame:
    """Per stock_mismatch label: the node's health in the onset's month + `shift` against the
    month before the onset's month (`table(month)`: health rows by node_id), whether it is
    lower, whether that month's explanation names the component that fell most between the
    two ("fell most: <it>"), whether that is data_quality, whether it mentions data_quality at
    all, and whether the label is `confounded`."""
    rows = []
    for i, lab in labels[labels["kind"] == "stock_mismatch"].iterrows():
        onset = lab["onset"].to_period("M")
        before = table(str(onset - 1)).loc[lab["node_id"]]
        after = table(str(onset + shift)).loc[lab["node_id"]]
        fell = fell_most(before, after)
        rows.append({"label": i, "node_id": lab["node_id"], "sku": lab["sku"],
                     "onset": lab["onset"], "before": before["score"], "after": after["score"],
                     "lower": after["score"] < before["score"], "fell_most": fell,
                     "named": str(after["explanation"]).startswith(f"fell most: {fell};"),
                     "data_quality": fell == "data_quality",
                     "mentions": "data_quality" in str(after["explanation"])})
    columns = ["label", "node_id", "sku", "onset", "before", "after", "lower", "fell_most",
               *[c for c, _ in BREAK_CHECKS[1:]]]
    out = pd.DataFrame(rows, columns=columns).set_index("label")
    return out.assign(confounded=confounded(labels).reindex(out.index))


def split_counts(flags: pd.Series, confound: pd.Series) -> str:
    """'X/Y overall; X'/Y' among labels with no other injection ... in the month before'."""
    clean = flags[~confound]
    return (f"{int(flags.sum())}/{len(flags)} overall; {int(clean.sum())}/{len(clean)} among "
            "labels with no other injection on that node in the month before")


def health_checks(injected: pd.DataFrame, nodes: pd.DataFrame, labels: pd.DataFrame,
                  alerts: pd.DataFrame) -> list[str]:
    """Stuffed nodes in the bottom quintile the month after onset; nodes with a break scoring
    lower than in the month before the onset's month under two readings, (i) in the onset's
    month, (ii) in the month after it (the issue's words, as for stuffing); each split by
    `confounded` and with the explanation check."""
    kpis, cache = monthly_kpis(injected, nodes, level="node"), {}

    def table(m: str) -> pd.DataFrame:
        if m not in cache:
            cache[m] = score_health(kpis, nodes, level="node", month=m,
                                    alerts=alerts).set_index("node_id")
        return cache[m]

    stuffed = labels[labels["kind"] == "channel_stuffing"]
    ok = 0
    for _, lab in stuffed.iterrows():
        t = table(str(lab["onset"].to_period("M") + 1))
        ok += t.loc[lab["node_id"], "rank"] <= max(1, round(0.2 * len(t)))
    lines = [f"stuffed nodes in the bottom quintile the month after onset: {ok}/{len(stuffed)}"]
    for shift, name in ((0, "(i) the onset's month"), (1, "(ii) the month after the onset's")):
        rows = break_rows(labels, table, shift)
        c = rows["confounded"]
        lines.append(f"stock-balance breaks, {name} vs the month before the onset's month "
                     f"({int(c.sum())} of {len(c)} confounded):")
        lines += [f"  {title}: {split_counts(rows[column], c)}" for column, title in BREAK_CHECKS]
        lines += [f"  not lower although unconfounded: {r.node_id} {r.sku} onset "
                  f"{r.onset.date()}: {r.before} -> {r.after} (fell most {r.fell_most})"
                  for r in rows[~rows["lower"] & ~c].itertuples()]
    return lines


def _runs(flags: np.ndarray) -> np.ndarray:
    """First flags of runs (series x periods): where flagged and the period before is not."""
    before = np.concatenate([np.zeros((flags.shape[0], 1), bool), flags[:, :-1]], axis=1)
    return flags & ~before


def peer_flags(frame: pd.DataFrame, keys: pd.DataFrame, peer: str) -> dict[str, np.ndarray]:
    """(series x periods) flags per detector name and side, for the series in `keys`."""
    wide = frame.merge(keys, on=["node_id", "sku"]).pivot_table(
        index=["node_id", "sku"], columns="date", values="units").reindex(
        pd.MultiIndex.from_frame(keys))
    if peer == "ets":
        return _ets_flags(wide)
    from adtk.data import validate_series
    from adtk.detector import LevelShiftAD, PersistAD, SeasonalAD
    detectors = {}
    for c in (3.0, 6.0, 9.0):  # ADTK's documented c, and stricter ones (fewer false alarms)
        detectors[f"LevelShiftAD c={2 * c:g}"] = (
            lambda side, c=c: LevelShiftAD(c=2 * c, side=side, window=5))
        detectors[f"PersistAD c={c:g}"] = lambda side, c=c: PersistAD(c=c, side=side, window=8)
        detectors[f"SeasonalAD c={c:g}"] = (
            lambda side, c=c: SeasonalAD(c=c, side=side, freq=52))
    out = {f"{name}:{side}": np.zeros(wide.shape, bool) for name in detectors
           for side in ("negative", "positive")}
    dates = pd.DatetimeIndex(wide.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, values in enumerate(wide.to_numpy()):
            series = validate_series(pd.Series(values, index=dates).asfreq("W-FRI"))
            for name, make in detectors.items():
                for side in ("negative", "positive"):
                    try:
                        flags = make(side).fit_detect(series)
                    except Exception:  # noqa: BLE001 - a peer failing on a series flags nothing
                        continue
                    out[f"{name}:{side}"][i] = flags.fillna(False).to_numpy(bool)[: wide.shape[1]]
    return out


def _ets_flags(wide: pd.DataFrame) -> dict[str, np.ndarray]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS
    long = wide.reset_index(drop=True).stack().rename("y").reset_index()
    long.columns = ["unique_id", "ds", "y"]
    sf = StatsForecast(models=[AutoETS(season_length=52)], freq="W-FRI", n_jobs=1)
    levels: list[Any] = [99, 99.9, 99.99]  # typed list[int] by statsforecast; floats work
    sf.forecast(df=long, h=1, fitted=True, level=levels)
    fitted = sf.forecast_fitted_values().sort_values(["unique_id", "ds"])
    shape = wide.shape
    y = fitted["y"].to_numpy().reshape(shape)
    out = {}
    for level in ("99.0", "99.9", "99.99"):
        lo = fitted[f"AutoETS-lo-{level}"].to_numpy().reshape(shape)
        hi = fitted[f"AutoETS-hi-{level}"].to_numpy().reshape(shape)
        out[f"AutoETS {level}%:negative"], out[f"AutoETS {level}%:positive"] = y < lo, y > hi
    return out


def score_peer(flags: dict[str, np.ndarray], keys: pd.DataFrame, labels: pd.DataFrame,
               dates: pd.DatetimeIndex, clean_rows: np.ndarray) -> pd.DataFrame:
    """Both readings on injected series, false alerts per 1,000 on clean ones, per peer.

    A peer's alert starts at the first flag of a run and is raised there (the peers flag
    each period), so (a) = a run starting 0..2 periods after the onset; as (b) the peers
    keep the earlier, looser rule: any flag 0..2 periods after the onset (a run going on
    from before the onset counts)."""
    index = {(n, s): i for i, (n, s) in enumerate(zip(keys["node_id"], keys["sku"],
                                                      strict=True))}
    first = len(dates) - WINDOW
    rows = []
    for name, flag in flags.items():
        kind = "demand_drop" if name.endswith("negative") else "demand_spike"
        starts = _runs(flag)
        far = 1000 * starts[clean_rows][:, first:].sum() / (len(clean_rows) * WINDOW)
        for _, lab in labels[labels["kind"] == kind].iterrows():
            row, t0 = index[(lab["node_id"], lab["sku"])], dates.get_loc(lab["onset"])
            began, hits = np.flatnonzero(starts[row, t0:t0 + 3]), np.flatnonzero(
                flag[row, t0:t0 + 3])
            rows.append({"peer": name.split(":")[0], "kind": kind,
                         "magnitude": lab["magnitude"], "false_per_1000": far,
                         "start_delay": began[0] if began.size else np.nan,
                         "raise_delay": hits[0] if hits.size else np.nan})
    return recall_table(rows, ["peer", "kind", "magnitude", "false_per_1000"])


def run_peers(clean: pd.DataFrame, injected: pd.DataFrame, labels: pd.DataFrame,
              peers: list[str], n_clean: int) -> pd.DataFrame:
    """Every peer on the injected demand series (recall) and a sample of clean ones (FAR)."""
    demand = labels[labels["kind"].isin(DEMAND)][["node_id", "sku"]].drop_duplicates()
    keys = clean[["node_id", "sku"]].drop_duplicates()
    sample = keys.sample(n=min(n_clean, len(keys)), random_state=0)
    dates = pd.DatetimeIndex(np.unique(clean["date"]))
    rows: list[pd.DataFrame] = []
    for peer in peers:
        start = time.perf_counter()
        hit = peer_flags(injected, demand.reset_index(drop=True), peer)
        calm = peer_flags(clean, sample.reset_index(drop=True), peer)
        for name in hit:
            both = {name: np.concatenate([hit[name], calm[name]])}
            table = pd.concat([demand, sample], ignore_index=True)
            clean_rows = np.arange(len(demand), len(table))
            rows.append(score_peer(both, table.iloc[: len(demand)], labels, dates,
                                   clean_rows))
        print(f"peer {peer}: {time.perf_counter() - start:.0f} s")
    return pd.concat(rows, ignore_index=True)


def scale_run() -> str:
    """replay over the last 40 of 104 weeks of 30,000 generated series: time, peak memory."""
    data = generate_channel_data(nodes=300, skus=100, periods=104, seed=5)
    series = data.sell_through.groupby(["node_id", "sku"]).ngroups
    since = np.sort(data.sell_through["date"].unique())[-WINDOW]
    start = time.perf_counter()
    alerts = replay(data.sell_through, data.nodes, since=pd.Timestamp(since).date())
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    start = time.perf_counter()
    last = detect_alerts(data.sell_through, data.nodes)
    one = time.perf_counter() - start
    return (f"replay of {series:,} series x {WINDOW} weeks (104 weeks of history): "
            f"{seconds:.1f} s, {len(alerts):,} alerts, peak RSS of the process {peak:.2f} GiB; "
            f"detect_alerts of the newest week alone: {one:.1f} s ({len(last)} alerts)")


def main() -> None:
    """Run the suite and print the tables (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peers", default="adtk,ets", help="adtk,ets or none")
    parser.add_argument("--peer-clean", type=int, default=300, help="clean series for peers")
    parser.add_argument("--scale", action="store_true", help="also the 30,000-series replay")
    args = parser.parse_args()
    start = time.perf_counter()
    clean, nodes = load_walmart()
    injected, labels = inject_anomalies(clean, seed=21, plan=PLAN)
    series = clean.groupby(["node_id", "sku"]).ngroups
    since = pd.Timestamp(np.sort(clean["date"].unique())[-WINDOW]).date()
    print(f"walmart: {series:,} series x {clean['date'].nunique()} weeks, {len(labels)} "
          f"injections ({time.perf_counter() - start:.0f} s)")
    timings = {}
    for name, frame in (("clean", clean), ("injected", injected)):
        began = time.perf_counter()
        result = replay(frame, nodes, since=since)
        timings[name] = time.perf_counter() - began
        if name == "clean":
            far = false_alerts(result, series, WINDOW)
        else:
            found = score(result, labels)
            alerts = result
    print(f"replay: clean {timings['clean']:.1f} s, injected {timings['injected']:.1f} s")
    print("recall (a) by alert start within 0..2 periods of the onset (start_* delays: "
          "onset to raised at medium+), and (b) raised at medium+ within 0..2 periods:")
    print(found.to_markdown(index=False, floatfmt=".2f"))
    print("\nfalse alerts per 1,000 series-periods (medium+), clean copy:")
    print(far.round(3).to_string())
    for line in health_checks(injected, nodes, labels, alerts):
        print(line)
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    if peers:
        table = run_peers(clean, injected, labels, peers, args.peer_clean)
        print("peers: (a) a run of flags starting within 0..2 periods of the onset; (b) any "
              "flag within 0..2 periods (the earlier rule); false = run starts per 1,000:")
        print(table.to_markdown(index=False, floatfmt=".3f"))
    if args.scale:
        print(scale_run())


if __name__ == "__main__":
    main()
