"""The global LightGBM model on Dask: training sets per partition, data-parallel fits.

Each partition of whole series builds its own training set with the local function
(`build_training_set`, with the hierarchy totals and id categories of all series), and
stacks it into rows (`StackedRows`). A fit at a cutoff follows `LGBMForecaster.fit`: rows
whose target period is <= the cutoff, early stopping on the last `valid_periods` target
periods, then optionally a refit. LightGBM trains data-parallel over its own network, one
rank per worker (each worker bins its share of the features from its own rows, histograms are
summed over the network), as `lightgbm.dask` does, but with the ranks and the rows of each
fixed by `training.dask.cluster.placement`, so that a fit is repeatable. Early stopping cannot run
inside it (each worker would stop on its own rows), so the model trains `max_rounds` rounds
and the validation loss of every round is summed over the partitions afterwards, with the
same patience rule as `lightgbm.early_stopping`.

The result is an ordinary `LGBMForecaster`: it predicts, pickles and rolls forward exactly
as one trained locally. Its forecasts differ slightly from the local model's (distributed
histograms, another row sample); tests/training/test_dask_engine.py states the tolerance.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.config import FeatureSpec
from features.contract.partitioned import StoreSummary
from features.engineering.training_set import ORIGIN, TrainingSet, build_training_set
from features.periods import period_offset
from features.schema import CHANNEL, ITEM, NODE
from models.lgbm import LGBMConfig, LGBMForecaster, StackedRows

__all__ = ["PartitionLGBM", "at_origins", "fit_lgbm_dask", "partition_inputs", "partition_rows",
           "partition_training_set"]

FloatArray = npt.NDArray[np.float64]


def partition_training_set(part: pd.DataFrame, *, horizon: int, freq: str,
                           spec: FeatureSpec | None, nodes: pd.DataFrame | None,
                           summary: StoreSummary) -> TrainingSet:
    """The training set of one partition's series, with features over all series (hierarchy
    totals) and the id categories of all series, so that codes agree between partitions."""
    ts = build_training_set(part, horizon=horizon, freq=freq, spec=spec, nodes=nodes,
                            totals=summary.totals, start=summary.start)
    for col in (NODE, ITEM, CHANNEL):
        if col in ts.features and col in summary.categories:
            ts.features[col] = ts.features[col].cat.set_categories(summary.categories[col])
    return ts


def partition_rows(ts: TrainingSet, *, step_share: float, seed: int,
                   cutoffs: Sequence[pd.Timestamp] | None = None,
                   config: LGBMConfig | None = None) -> StackedRows:
    """The partition's stacked rows (one random step sample per partition seed).

    With `cutoffs` (and the `config` that decides which origins a fit may use), rows that
    no fit at those cutoffs can use are dropped: fewer rows held, the same fits.
    """
    rows = StackedRows.from_training_set(ts, step_share=step_share, seed=seed)
    if cutoffs is None:
        return rows
    keep = rows.date <= np.datetime64(max(cutoffs))
    if config is not None and config.history_periods is not None:
        period = period_offset(ts.freq)
        first = min(cutoffs) - config.history_periods * period
        keep &= rows.origin > np.datetime64(first)
    return StackedRows(X=rows.X[keep].reset_index(drop=True), y=rows.y[keep],
                       origin=rows.origin[keep], date=rows.date[keep],
                       feature_names=rows.feature_names)


def at_origins(ts: TrainingSet, origins: Sequence[pd.Timestamp]) -> TrainingSet:
    """The rows of `ts` whose origin is one of `origins` (what forecasts at them read)."""
    keep = np.flatnonzero(ts.keys[ORIGIN].isin([pd.Timestamp(o) for o in origins]).to_numpy())
    s, t = ts.known.rows
    known = replace(ts.known, rows=(s[keep], t[keep]), price_ref=ts.known.price_ref[keep])
    return replace(ts, keys=ts.keys.iloc[keep].reset_index(drop=True),
                   features=ts.features.iloc[keep].reset_index(drop=True),
                   targets=ts.targets[keep], censored=ts.censored[keep], known=known)


def partition_inputs(part: pd.DataFrame, *, horizon: int, freq: str, spec: FeatureSpec | None,
                     nodes: pd.DataFrame | None, summary: StoreSummary,
                     cutoffs: Sequence[pd.Timestamp], config: LGBMConfig, seed: int
                     ) -> tuple[TrainingSet, StackedRows]:
    """A partition's LightGBM inputs: its training set cut to the cutoff origins (for the
    forecasts) and the stacked rows the fits at `cutoffs` can use."""
    ts = partition_training_set(part, horizon=horizon, freq=freq, spec=spec, nodes=nodes,
                                summary=summary)
    rows = partition_rows(ts, step_share=0.125, seed=seed, cutoffs=cutoffs, config=config)
    return at_origins(ts, cutoffs), rows


def _masks(rows: StackedRows, cutoff: pd.Timestamp, horizon: int, period: pd.DateOffset,
           cfg: LGBMConfig) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """usable and is_valid, exactly as `LGBMForecaster.fit` chooses them."""
    cut = np.datetime64(pd.Timestamp(cutoff))
    usable = rows.date <= cut
    if cfg.history_periods is not None:
        first = pd.Timestamp(cutoff) - cfg.history_periods * period
        usable &= rows.origin > np.datetime64(first)
    valid_from = pd.Timestamp(cutoff) - (cfg.valid_periods or horizon) * period
    return usable, usable & (rows.date > np.datetime64(valid_from))


def _select(rows: StackedRows, kind: str, *args: Any) -> tuple[pd.DataFrame, pd.Series]:
    usable, valid = _masks(rows, *args)
    keep = {"train": usable & ~valid, "valid": valid, "usable": usable}[kind]
    X = rows.X[keep].reset_index(drop=True)
    return X, pd.Series(rows.y[keep], name="y")


def _counts(rows: StackedRows, *args: Any) -> tuple[int, int]:
    usable, valid = _masks(rows, *args)
    return int(usable.sum()), int(valid.sum())


def _open_port() -> int:
    """A port nobody listens on now, on every interface of this worker."""
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _train_here(rows: Sequence[StackedRows], kind: str, args: tuple[Any, ...],
                params: dict[str, Any], rounds: int, master: bool) -> Any:
    """One worker's share of a data-parallel fit: its partitions' `kind` rows, in order."""
    import lightgbm as lgb
    from distributed import get_worker

    picked = [_select(r, kind, *args) for r in rows]
    X = pd.concat([p[0] for p in picked], ignore_index=True)
    y = np.concatenate([p[1].to_numpy() for p in picked])
    data = lgb.Dataset(X, y, free_raw_data=True)
    del picked, X, y  # the binned Dataset is all training keeps
    params = {**params, "num_threads": get_worker().state.nthreads}
    booster = lgb.train(params, data, num_boost_round=rounds)
    booster.free_network()  # now, not when the booster is collected during the next fit
    return booster if master else None


def _train(client: Any, placed: Sequence[tuple[Any, str]], kind: str, args: tuple[Any, ...],
           cfg: LGBMConfig, rounds: int) -> Any:
    """A data-parallel LightGBM fit on the `kind` rows of every partition; the Booster.

    `placed`: (rows future, the worker holding it) per partition. Each worker trains on the
    partitions it holds, in partition order; its rank is its place in the order the workers
    first appear in `placed`, and rank 0 returns the model. LightGBM bins each feature from
    one rank's rows and bags per rank, so this fixed order is what makes a fit repeatable:
    the same data and placement give the same model in every run (`lightgbm.dask` orders
    workers by a set of task keys, which changes from run to run).
    """
    from urllib.parse import urlparse

    order = list(dict.fromkeys(w for _, w in placed))
    ports = client.run(_open_port, workers=order)
    params = {**cfg.params(), "tree_learner": "data", "pre_partition": True,
              "num_machines": len(order), "deterministic": True, "force_col_wise": True,
              "machines": ",".join(f"{urlparse(w).hostname}:{ports[w]}" for w in order)}
    futures = [client.submit(_train_here, [r for r, at in placed if at == w],
                             kind, args, {**params, "local_listen_port": ports[w]}, rounds,
                             rank == 0, workers=[w], allow_other_workers=False, pure=False)
               for rank, w in enumerate(order)]
    booster = client.gather(futures)[0]
    for key in ("machines", "local_listen_port", "num_machines", "pre_partition",
                "tree_learner"):
        booster.params.pop(key, None)
    return booster


def _round_losses(rows: StackedRows, booster: Any, cfg: LGBMConfig, *args: Any
                  ) -> tuple[FloatArray, int]:
    """Sum over the partition's validation rows of LightGBM's metric after each round."""
    X, y = _select(rows, "valid", *args)
    n_rounds = booster.num_trees()
    out = np.zeros(n_rounds)
    if len(X) == 0:
        return out, 0
    raw = np.zeros(len(X))
    label = y.to_numpy(dtype=np.float64)
    rho = cfg.tweedie_variance_power
    for i in range(n_rounds):
        raw += booster.predict(X, start_iteration=i, num_iteration=1, raw_score=True,
                               num_threads=cfg.num_threads)
        score = np.maximum(np.exp(raw), 1e-10)
        if cfg.objective == "tweedie":
            loss = (-label * np.exp((1 - rho) * np.log(score)) / (1 - rho)
                    + np.exp((2 - rho) * np.log(score)) / (2 - rho))
        else:
            loss = score - label * np.log(score)
        out[i] = loss.sum()
    return out, len(X)


def _best_round(curve: FloatArray, patience: int) -> int:
    """Best round (1-based) by `lightgbm.early_stopping`'s rule on the validation curve."""
    best, best_i = np.inf, 0
    for i, value in enumerate(curve):
        if value < best:
            best, best_i = value, i
        elif i - best_i >= patience:
            break
    return best_i + 1


def fit_lgbm_dask(client: Any, rows: Sequence[Any], *, cutoff: pd.Timestamp, horizon: int,
                  period: pd.DateOffset, config: LGBMConfig,
                  workers: Sequence[str]) -> LGBMForecaster:
    """`LGBMForecaster.fit` on the stacked rows of every partition (`rows`: futures).

    `workers[i]`: the worker holding `rows[i]` (`training.dask.cluster.placement`); the same
    placement gives the same model in every run.
    """
    cfg = config
    if cfg.per_horizon:
        raise ValueError("`per_horizon` LightGBM is not available on the Dask engine; use "
                         "the local engine or the default single model.")
    args = (pd.Timestamp(cutoff), horizon, period, cfg)
    counts = client.gather(client.map(_counts, rows, *[[a] * len(rows) for a in args]))
    usable = sum(c[0] for c in counts)
    n_valid = sum(c[1] for c in counts)
    if usable == 0:
        raise ValueError(f"no observed target on or before cutoff {cutoff:%Y-%m-%d}: "
                         "the history is too short to train LightGBM.")
    live = [(r, w) for r, w, c in zip(rows, workers, counts, strict=True) if c[0] > 0]
    rounds, booster = cfg.max_rounds, None
    if usable - n_valid > 1000 and n_valid > 100:
        train = [(r, w) for r, w, c in zip(rows, workers, counts, strict=True) if c[0] > c[1]]
        booster = _train(client, train, "train", args, cfg, cfg.max_rounds)
        scattered = client.scatter(booster, broadcast=True)
        parts = client.gather([client.submit(_round_losses, r, scattered, cfg, *args,
                                             workers=[w], pure=False) for r, w in live])
        curve = sum(p[0] for p in parts) / max(sum(p[1] for p in parts), 1)
        best = _best_round(curve, cfg.early_stopping_rounds)
        booster.best_iteration = best
        rounds = max(best, 10)
    if cfg.refit or booster is None:
        booster = _train(client, live, "usable", args, cfg, rounds)
    model = LGBMForecaster(config=cfg)
    model.booster_ = booster
    model.best_rounds_ = rounds
    model.cutoff_ = pd.Timestamp(cutoff)
    model.feature_names_ = client.submit(lambda r: r.feature_names, rows[0], pure=False).result()
    return model


class PartitionLGBM:
    """`GlobalModel`'s forecast step for one partition: its training set and the boosters
    fitted on all partitions, one per cutoff."""

    def __init__(self, ts: TrainingSet, boosters: dict[pd.Timestamp, LGBMForecaster],
                 panel_keys: pd.DataFrame) -> None:
        self.ts = ts
        self.boosters = boosters
        key_index = pd.MultiIndex.from_frame(panel_keys[[NODE, ITEM]].astype(str))
        ts_keys = pd.MultiIndex.from_frame(ts.keys[[NODE, ITEM]].astype(str))
        self._series_of_row = key_index.get_indexer(ts_keys)
        self._origins = ts.keys[ORIGIN].to_numpy()

    def forecast(self, cutoff: pd.Timestamp, *, fallback: FloatArray) -> FloatArray:
        """The booster of `cutoff` at origin `cutoff` (series x horizon); `fallback` for
        series without a row there."""
        model = self.boosters[pd.Timestamp(cutoff)]
        rows = np.flatnonzero(self._origins == np.datetime64(pd.Timestamp(cutoff)))
        out = fallback.copy()
        series = self._series_of_row[rows]
        known = series >= 0
        if known.any():
            out[series[known]] = model.predict(self.ts, rows=rows[known])
        return out
