"""Sell-through as Parquet partitioned by series, read with Dask, never collected.

A store is a folder:
```
STORE/_meta.json                      freq, buckets, rows, series, first and last date
STORE/nodes.parquet                   the node table (small: every partition gets it whole)
STORE/sell_through/part-00000.parquet one file per bucket, rows sorted by node, sku, date
```
A series (node_id, sku) goes to bucket `hash(node_id, sku) mod buckets`, so a file holds
whole series and the functions that work on "any subset of whole series" (panel, features,
per-series models) run on each file as they run on everything. What needs every series
(hierarchy totals, the categories of the id columns) is summed with Dask group-bys and
handed to each partition (`StoreSummary`).

`channelcast ingest DIR --parquet-dir STORE` writes one; workers of a Dask cluster must see
the same path (a shared file system or object store).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.engineering.hierarchy import group_labels
from features.schema import CHANNEL, DATE, ITEM, NODE, UNITS

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["Store", "StoreSummary", "is_store", "open_store", "part_fingerprint",
           "series_bucket", "store_fingerprint", "summarize_history", "write_partitioned"]

META = "_meta.json"
FORMAT = "channelcast-partitioned/1"
SERIES_PER_BUCKET = 5_000


def series_bucket(node_ids: pd.Series, skus: pd.Series, *, buckets: int
                  ) -> npt.NDArray[np.int64]:
    """Bucket of each (node_id, sku): a stable hash (the same in every process and run)."""
    if buckets < 1:
        raise ValueError(f"`buckets` must be >= 1; got {buckets}.")
    key = node_ids.astype(str).to_numpy(dtype=object) + "\x1f" + skus.astype(str).to_numpy(
        dtype=object)
    hashed = pd.util.hash_array(key.astype(object), categorize=True)
    return (hashed % np.uint64(buckets)).astype(np.int64)


def write_partitioned(history: pd.DataFrame, out: Path | str, *, freq: str,
                      nodes: pd.DataFrame | None = None, buckets: int | None = None
                      ) -> Path:
    """Write validated `history` (and `nodes`) as a partitioned store; returns its path.

    `buckets` defaults to one per 5,000 series (at least 2). Existing part files of the
    store are replaced.
    """
    out = Path(out)
    folder = out / "sell_through"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    n_series = int(history.groupby([NODE, ITEM], observed=True).ngroups)
    buckets = buckets or max(2, math.ceil(n_series / SERIES_PER_BUCKET))
    bucket = series_bucket(history[NODE], history[ITEM], buckets=buckets)
    order = np.argsort(bucket, kind="stable")
    frame = history.iloc[order]
    bounds = np.searchsorted(bucket[order], np.arange(buckets + 1))
    for b in range(buckets):
        part = frame.iloc[bounds[b]:bounds[b + 1]]
        if len(part):
            part = part.sort_values([NODE, ITEM, DATE], kind="stable")
            part.to_parquet(folder / f"part-{b:05d}.parquet", index=False)
    if nodes is not None:
        nodes.to_parquet(out / "nodes.parquet", index=False)
    dates = pd.to_datetime(history[DATE])
    meta = {"format": FORMAT, "freq": freq, "buckets": buckets, "rows": len(history),
            "series": n_series, "first_date": f"{dates.min():%Y-%m-%d}",
            "last_date": f"{dates.max():%Y-%m-%d}"}
    (out / META).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def is_store(path: Path | str) -> bool:
    """True when `path` is a store written by `write_partitioned`."""
    return (Path(path) / META).is_file()


@dataclass(frozen=True)
class Store:
    """An opened store: its metadata and how to read it.

    Attributes:
        path: the store folder.
        freq: the validated period grid.
        meta: the `_meta.json` record (rows, series, buckets, date range).
    """

    path: Path
    freq: str
    meta: dict[str, object] = field(repr=False)

    @property
    def files(self) -> list[Path]:
        return sorted((self.path / "sell_through").glob("part-*.parquet"))

    def nodes(self) -> pd.DataFrame | None:
        """The node table, or None when the store has none."""
        path = self.path / "nodes.parquet"
        return pd.read_parquet(path) if path.is_file() else None

    def dask_history(self, columns: Sequence[str] | None = None) -> dd.DataFrame:
        """A Dask frame with one partition per part file (whole series each)."""
        import dask.dataframe as dd

        files = [str(f) for f in self.files]
        if not files:
            raise FileNotFoundError(f"store {self.path} has no part files; write it again "
                                    "with `channelcast ingest DIR --parquet-dir STORE`.")
        meta = pd.read_parquet(files[0], columns=list(columns) if columns else None).iloc[:0]
        return dd.from_map(_read_part, files, columns=list(columns) if columns else None,
                           meta=meta, enforce_metadata=False)

    def load_history(self) -> pd.DataFrame:
        """Every row in one pandas frame (the local engine), sorted by node, sku, date."""
        frame = pd.concat([pd.read_parquet(f) for f in self.files], ignore_index=True)
        return frame.sort_values([NODE, ITEM, DATE], kind="stable").reset_index(drop=True)


def _read_part(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(path, columns=columns)


def open_store(path: Path | str) -> Store:
    """Open a store; raises FileNotFoundError naming the missing `_meta.json`."""
    path = Path(path)
    if not is_store(path):
        raise FileNotFoundError(f"{path} is not a partitioned store (no {META}); write one with "
                                f"`channelcast ingest DIR --parquet-dir {path}`.")
    meta = json.loads((path / META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path / META} has format {meta.get('format')!r}; expected {FORMAT!r}.")
    return Store(path=path, freq=str(meta["freq"]), meta=meta)


@dataclass(frozen=True)
class StoreSummary:
    """What every partition needs to know about all series, computed with Dask group-bys.

    Attributes:
        start, end: first and last period of the whole history.
        n_series, n_rows: series and rows in it.
        categories: sorted categories of `node_id`, `sku` and `channel` over all series
            (LightGBM needs the same codes in every partition).
        totals: hierarchy totals per level, (group label, date) -> units, for
            `build_training_set(..., totals=...)`.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    n_series: int
    n_rows: int
    categories: dict[str, list[str]]
    totals: dict[str, pd.Series] = field(repr=False)


def _labelled(part: pd.DataFrame, nodes: pd.DataFrame | None) -> pd.DataFrame:
    labels = group_labels(part[[NODE, ITEM]], nodes)
    out = pd.DataFrame({DATE: pd.to_datetime(part[DATE]).to_numpy(),
                        UNITS: pd.to_numeric(part[UNITS]).to_numpy(dtype=np.float64)})
    for level, values in labels.items():
        out[level] = pd.Series(values, dtype=object).to_numpy()
    return out


def _ids(part: pd.DataFrame) -> pd.DataFrame:
    nodes, skus = part[NODE].astype(str).unique(), part[ITEM].astype(str).unique()
    n_series = len(part[[NODE, ITEM]].drop_duplicates())
    return pd.DataFrame({"kind": [NODE] * len(nodes) + [ITEM] * len(skus) + ["series"],
                         "id": [*nodes, *skus, ""],
                         "series": np.r_[np.zeros(len(nodes) + len(skus), np.int64), n_series]})


def summarize_history(frame: dd.DataFrame, nodes: pd.DataFrame | None = None, *,
                      cutoff: pd.Timestamp | None = None) -> StoreSummary:
    """Date range, series count, id categories and hierarchy totals of a Dask frame
    (rows after `cutoff` left out), each a group-by over the partitions."""
    import dask
    import dask.dataframe as dd

    if cutoff is not None:
        frame = frame[dd.to_datetime(frame[DATE]) <= pd.Timestamp(cutoff)]
    levels = list(group_labels(pd.DataFrame({NODE: ["n"], ITEM: ["s"]}), nodes))
    meta = pd.DataFrame({DATE: pd.Series(dtype="datetime64[ns]"),
                         UNITS: pd.Series(dtype=np.float64),
                         **{lv: pd.Series(dtype=object) for lv in levels}})
    labelled = frame.map_partitions(_labelled, nodes, meta=meta)
    sums = {lv: labelled.groupby([lv, DATE])[UNITS].sum() for lv in levels}
    # a partition holds whole series: distinct ids and series counts add up over partitions
    ids = frame.map_partitions(_ids, meta=pd.DataFrame({"kind": pd.Series(dtype=object),
                                                        "id": pd.Series(dtype=object),
                                                        "series": pd.Series(dtype=np.int64)}))
    computed = dask.compute(frame[DATE].min(), frame[DATE].max(), ids, frame.shape[0], sums)
    start, end, ids, n_rows, totals = computed
    node_cats = sorted(ids.loc[ids["kind"] == NODE, "id"].unique())
    cats = {NODE: node_cats, ITEM: sorted(ids.loc[ids["kind"] == ITEM, "id"].unique())}
    n_series = int(ids.loc[ids["kind"] == "series", "series"].sum())
    if nodes is not None and CHANNEL in nodes:
        channel = nodes.drop_duplicates(NODE).set_index(NODE)[CHANNEL]
        cats[CHANNEL] = sorted(pd.Series(node_cats).map(channel).dropna().astype(str).unique())
    totals = {lv: s.astype(np.float64).sort_index() for lv, s in totals.items()}
    return StoreSummary(start=pd.Timestamp(start), end=pd.Timestamp(end),
                        n_series=int(n_series), n_rows=int(n_rows), categories=cats,
                        totals=totals)


def part_fingerprint(path: Path | str) -> dict[str, Any]:
    """Rows, series, date range, units and a content digest of one part file."""
    import hashlib

    frame = pd.read_parquet(path)
    cols = [c for c in (DATE, NODE, ITEM, UNITS, "price", "promo", "on_hand") if c in frame]
    frame = frame[cols].sort_values([NODE, ITEM, DATE], kind="stable")
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    dates = pd.to_datetime(frame[DATE])
    return {"rows": len(frame), "series": int(frame.groupby([NODE, ITEM]).ngroups),
            "first": dates.min(), "last": dates.max(), "units": float(frame[UNITS].sum()),
            "digest": digest.hexdigest()}


def store_fingerprint(store: Store, parts: Sequence[dict[str, Any]] | None = None
                      ) -> dict[str, str]:
    """`training.tracking.runs.data_fingerprint`'s record for a store, from its part files'
    fingerprints (`parts`, e.g. computed on a cluster; read here when None). The hash is
    over the part digests in file order, so both engines log the same `data.sha256`."""
    import hashlib

    parts = parts if parts is not None else [part_fingerprint(f) for f in store.files]
    digest = hashlib.sha256("".join(str(p["digest"]) for p in parts).encode())
    return {
        "data.rows": str(sum(int(p["rows"]) for p in parts)),
        "data.series": str(sum(int(p["series"]) for p in parts)),
        "data.first_date": f"{min(p['first'] for p in parts):%Y-%m-%d}",
        "data.last_date": f"{max(p['last'] for p in parts):%Y-%m-%d}",
        "data.freq": store.freq,
        "data.units": f"{sum(float(p['units']) for p in parts):.0f}",
        "data.sha256": digest.hexdigest()[:16],
    }
