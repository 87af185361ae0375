"""The served model: loaded from the MLflow registry, rolled forward over new sell-through,
swapped atomically.

`ModelHolder.current` is one immutable `ServedModel`. A request reads it once and uses that
object to the end, so a reload or a roll-forward (which build a new `ServedModel` beside the
old one and then replace the reference) never disturbs a request in flight. Writers (reload,
roll-forward) are serialised by a lock; readers never wait for it.

Forecasts are answered from `ForecastCache`: the model's forecasts of every series for a
(model, horizon, quantiles) combination, computed once per `ServedModel` with the public
`Forecaster.predict`, then sliced per request (identical numbers, microseconds per request).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypedDict, TypeVar, Unpack, cast

import mlflow
import numpy as np
import numpy.typing as npt
import pandas as pd
from mlflow import MlflowClient

from features.schema import DATE, ITEM, NODE
from models.quantiles import quantile_name
from training.engine.forecast import Forecaster

__all__ = ["FULL_CACHE_SERIES", "ForecastCache", "ForecastTable", "ModelFacts", "ModelHolder",
           "ModelUnavailableError", "ServedModel", "find_rows", "load_model",
           "table_of"]

log = logging.getLogger("channelcast.serving")
FloatArray = npt.NDArray[np.float64]
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
CACHE_BYTES = 256 * 1024 * 1024
MAX_DERIVED = 10_000
T = TypeVar("T")
FULL_CACHE_SERIES = 20_000
"""Above this many series a forecast request that misses the cache forecasts only its own
series (a whole table is still built for allocation and risk)."""


class ModelUnavailableError(RuntimeError):
    """No model is loaded (yet): the service answers 503 until one is."""


@dataclass(frozen=True)
class ForecastTable:
    """Forecasts of every series for one (model, horizon, quantiles): arrays by series row."""

    mean: FloatArray  # series x horizon
    quantiles: FloatArray  # series x horizon x levels
    model: npt.NDArray[np.object_]  # the model behind each series' numbers
    names: tuple[str, ...]  # quantile column names, e.g. q0.1
    dates: tuple[str, ...]  # the forecast periods, YYYY-MM-DD

    @property
    def nbytes(self) -> int:
        return int(self.mean.nbytes + self.quantiles.nbytes + 8 * len(self.model))


class ForecastCache:
    """Least-recently-used `ForecastTable`s of one forecaster, bounded in bytes."""

    def __init__(self, forecaster: Forecaster, *, max_bytes: int = CACHE_BYTES) -> None:
        self.forecaster = forecaster
        self.max_bytes = max_bytes
        self._tables: OrderedDict[tuple[object, ...], ForecastTable] = OrderedDict()
        self._derived: dict[object, object] = {}
        self._lock = threading.Lock()
        self._compute = threading.Lock()

    def peek(self, model: str, horizon: int, quantiles: tuple[float, ...]
             ) -> ForecastTable | None:
        """The table if it is cached (no computing): safe on the event loop."""
        return self._peek((model, horizon, quantiles))

    def _peek(self, key: tuple[object, ...]) -> ForecastTable | None:
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
            return table

    def table(self, model: str, horizon: int, quantiles: tuple[float, ...]) -> ForecastTable:
        """The table, computed on a miss (slow for big models: call from a worker thread).

        Raises:
            ValueError: bad horizon, model or quantile (from `Forecaster.predict`).
        """
        f = self.forecaster
        return self.kept((model, horizon, quantiles), lambda: table_of(
            f.predict(horizon=horizon, quantiles=quantiles, model=model), horizon, quantiles,
            f.dates))

    def kept(self, key: tuple[object, ...], compute: Callable[[], ForecastTable]
             ) -> ForecastTable:
        """The table under `key`, made by `compute` on a miss (once, whatever the threads) and
        kept with the others (least recently used first out beyond `max_bytes`)."""
        found = self._peek(key)
        if found is not None:
            return found
        with self._compute:
            found = self._peek(key)
            if found is not None:
                return found
            table = compute()
            with self._lock:
                self._tables[key] = table
                while (sum(t.nbytes for t in self._tables.values()) > self.max_bytes
                       and len(self._tables) > 1):
                    self._tables.popitem(last=False)
            return table

    def derived(self, key: object, compute: Callable[[], T]) -> T:
        """A value computed once from this forecaster's numbers (e.g. an sku's protection
        interval demand), remembered under `key` (at most `MAX_DERIVED` of them)."""
        if key in self._derived:
            return cast(T, self._derived[key])  # what `compute` gave for this key
        value = compute()
        with self._lock:
            if len(self._derived) >= MAX_DERIVED:
                self._derived.clear()
            self._derived[key] = value
        return value


K = TypeVar("K")


def find_rows(index: dict[K, int], wanted: Sequence[K]) -> tuple[list[int], list[K]]:
    """Row in `index` of each known key of `wanted` and the unknown keys."""
    rows: list[int] = []
    unknown: list[K] = []
    for key in wanted:
        at = index.get(key)
        if at is None:
            unknown.append(key)
        else:
            rows.append(at)
    return rows, unknown


def table_of(frame: pd.DataFrame, horizon: int, quantiles: tuple[float, ...],
             dates: pd.DatetimeIndex) -> ForecastTable:
    """`Forecaster.predict`'s rows (every series x `horizon` steps, in order) as arrays."""
    names = tuple(quantile_name(q) for q in quantiles)
    n = len(frame) // horizon
    return ForecastTable(
        mean=frame["mean"].to_numpy(np.float64).reshape(n, horizon),
        quantiles=frame[list(names)].to_numpy(np.float64).reshape(n, horizon, len(names)),
        model=frame["model"].astype(str).to_numpy(object)[::horizon], names=names,
        dates=tuple(f"{d:%Y-%m-%d}" for d in dates[:horizon]))


class ModelFacts(TypedDict):
    """Where a `ServedModel` came from (see its attributes)."""

    uri: str
    name: str | None
    version: str | None
    run_id: str | None
    loaded_at: datetime


@dataclass(frozen=True)
class ServedModel:
    """One loaded forecaster and where it came from; never changed once built.

    Attributes:
        forecaster: the model (rolled forward over `batches` sell-through batches).
        uri: the URI it was loaded from (a registry alias resolved to its version).
        name, version, run_id: registry facts (None outside the registry).
        loaded_at: when it was loaded; origin_at_load: its origin then.
        batch_id: highest sell-through batch applied (0 = none).
        generation: increases with every swap in this process.
    """

    forecaster: Forecaster
    uri: str
    name: str | None
    version: str | None
    run_id: str | None
    loaded_at: datetime
    origin_at_load: pd.Timestamp
    batch_id: int = 0
    batches: int = 0
    generation: int = 0
    index: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    by_sku: dict[str, list[int]] = field(default_factory=dict, repr=False)
    node_ids: npt.NDArray[np.object_] = field(default_factory=lambda: np.empty(0, object),
                                             repr=False)
    skus: npt.NDArray[np.object_] = field(default_factory=lambda: np.empty(0, object),
                                          repr=False)
    cache: ForecastCache | None = field(default=None, repr=False)
    replay_error: str | None = None

    @classmethod
    def build(cls, forecaster: Forecaster, *, origin_at_load: pd.Timestamp | None = None,
              batch_id: int = 0, replay_error: str | None = None,
              **facts: Unpack[ModelFacts]) -> ServedModel:
        """A served model of `forecaster` (origin at load: its origin unless given)."""
        keys = forecaster.keys
        index = {(str(n), str(s)): i for i, (n, s) in
                 enumerate(zip(keys[NODE].to_numpy(), keys[ITEM].to_numpy(), strict=True))}
        by_sku: dict[str, list[int]] = {}
        for (_, sku), i in index.items():
            by_sku.setdefault(sku, []).append(i)
        return cls(forecaster=forecaster, index=index, by_sku=by_sku,
                   node_ids=keys[NODE].astype(str).to_numpy(object),
                   skus=keys[ITEM].astype(str).to_numpy(object), cache=ForecastCache(forecaster),
                   origin_at_load=forecaster.origin if origin_at_load is None else origin_at_load,
                   batch_id=batch_id, replay_error=replay_error, **facts)

    @property
    def forecasts(self) -> ForecastCache:
        """The forecast cache of `forecaster` (every model made by `build` has one)."""
        if self.cache is None:
            raise RuntimeError("this ServedModel has no forecast cache: make it with "
                               "ServedModel.build(forecaster, ...)")
        return self.cache

    def rolled(self, forecaster: Forecaster, *, batch_id: int, batches: int) -> ServedModel:
        """The same registry model rolled forward to `forecaster`."""
        return replace(self, forecaster=forecaster, cache=ForecastCache(forecaster),
                       batch_id=batch_id, batches=self.batches + batches,
                       generation=self.generation + 1)

    def rows(self, pairs: Sequence[tuple[str, str]]) -> tuple[list[int], list[tuple[str, str]]]:
        """Row of each known (node_id, sku) and the unknown pairs."""
        return find_rows(self.index, pairs)

    def frame(self, rows: Sequence[int], table: ForecastTable) -> pd.DataFrame:
        """Long forecast rows (as `Forecaster.predict` gives) of `rows` from `table`."""
        at = np.asarray(rows, dtype=np.intp)
        h = table.mean.shape[1]
        columns: dict[str, npt.NDArray[np.generic]] = {
            NODE: np.repeat(self.node_ids[at], h), ITEM: np.repeat(self.skus[at], h),
            DATE: np.tile(self.forecaster.dates[:h], len(at)),
            "step": np.tile(np.arange(1, h + 1), len(at)),
            "model": np.repeat(table.model[at], h), "mean": table.mean[at].ravel()}
        for j, name in enumerate(table.names):
            columns[name] = table.quantiles[at, :, j].ravel()
        return pd.DataFrame(columns)


def load_model(uri: str, *, tracking_uri: str) -> ServedModel:
    """Load `uri` (an alias is resolved to its version first, so the version reported is
    the one loaded even if the alias moves meanwhile). The registry is read through an
    explicit client and the version loaded from its artifact location, so the process-wide
    registry URI (and the environment variable MLflow keeps it in) is left alone."""
    mlflow.set_tracking_uri(tracking_uri)
    name = version = run_id = None
    resolved = uri
    alias, numbered = _ALIAS.match(uri), _VERSION.match(uri)
    if alias or numbered:
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        if alias:
            mv = client.get_model_version_by_alias(alias["name"], alias["alias"])
        else:
            assert numbered is not None  # `alias or numbered` matched
            mv = client.get_model_version(numbered["name"], numbered["version"])
        name, version, run_id = mv.name, str(mv.version), mv.run_id
        resolved = client.get_model_version_download_uri(mv.name, mv.version)
    pyfunc = mlflow.pyfunc.load_model(resolved)
    forecaster = pyfunc.unwrap_python_model().forecaster
    if not isinstance(forecaster, Forecaster):
        raise TypeError(f"{uri} is not a channelcast forecaster model; got "
                        f"{type(forecaster).__name__}.")
    return ServedModel.build(forecaster, uri=uri, name=name, version=version, run_id=run_id,
                             loaded_at=datetime.now().astimezone())


class ModelHolder:
    """The current `ServedModel` and the lock that serialises changes to it."""

    def __init__(self) -> None:
        self.current: ServedModel | None = None
        self.error: str | None = None
        self.lock = threading.RLock()
        self._generation = 0

    def get(self) -> ServedModel:
        current = self.current
        if current is None:
            raise ModelUnavailableError(
                "no model is loaded" + (f": {self.error}" if self.error else "")
                + "; train and promote one, then POST /v1/models/reload (admin).")
        return current

    def swap(self, model: ServedModel) -> ServedModel:
        """Make `model` current (one reference assignment: atomic for readers)."""
        with self.lock:
            self._generation += 1
            model = replace(model, generation=self._generation)
            self.current = model
            self.error = None
            return model
