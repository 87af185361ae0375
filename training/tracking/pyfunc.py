"""The `channelcast-demand` MLflow model: a pyfunc that answers forecast requests.

Input rows are series, (`node_id`, `sku`); params are `horizon` (1..the trained horizon),
`quantiles` (any levels in (0, 1)) and `model` (default `auto` = the per-class combination
of models learned by the backtest when it was trained, else the first of the trained
models: `served_model`; or any trained model by name).
Optional input columns `date`, `price`, `promo` carry planned prices and promotions of the
forecast periods: a row with a `date` says "this series, in this period, will sell at this
price / be on promotion"; LightGBM's forecasts of those series are rebuilt with them.
Output: one row per series x step with `node_id, sku, date, step, model, mean` and one
`q<level>` column per quantile.

Aggregate series (a model trained on nodes with parents or channels: `Forecaster.levels`):
rows with a `level` (`node`, `parent`, `channel`, `total`; the aggregate's id in `node_id`,
its sku in `sku` or `*` for all skus) are answered with reconciled means and quantiles
(`Forecaster.predict_levels`), method = param `reconcile` (default the model's backtest
winner; `none` = each series' own base forecast). Rows without a `level` keep the bottom
answer above, unless `reconcile` is given: then every row is a level request (a missing
level is `node`). Level rows come after the others and carry `level` and `reconcile`.

The model directory holds `forecaster.pkl` (the fitted `training.engine.forecast.Forecaster`:
every model's forecasts from the last history period, `auto`'s combination per series,
conformal residual pools per model, horizon step and demand class, series scales and
classes, and its `state`: the LightGBM booster, the ETS states and parameters, the feature
spec, the node table and the history tail the features need, so that the model can roll
forward over new sell-through without refitting: `Forecaster.update`), `lgbm_booster.txt`
(the booster as LightGBM text, when LightGBM was trained) and `model_card.json` (origin,
horizon, models, feature spec, what the state holds).
The model's code is `training/tracking/pyfunc_code.py` (MLflow models-from-code) and the
packages it imports, `features`, `models` and `training`, logged in the model's `code/`
folder (MLflow puts it on `sys.path` when it loads the model); `requirements.txt` pins the
third-party packages they need with the versions that trained the model (`mlflow-skinny`,
not `mlflow`: no tracking server or UI). So the model loads, and `mlflow models serve`
answers, in a virtualenv built from the model's own environment on a machine that never
had the repository (tests/training/tracking/test_model_env.py).

Series that were not in the training data are refused with `UnknownSeriesRequest`, an
`MlflowException` (HTTP 400 when served) that is also a `UnknownSeriesError`; the message
lists the unknown series. There is no cold-start forecast.
"""

from __future__ import annotations

import json
import pickle
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel, PythonModelContext

import features
import models
import training
from features.config import DEFAULT_QUANTILES, FeatureSpec
from features.schema import DATE, ITEM, NODE, PRICE, PROMO
from models.hierarchy import ALL_SKUS, TOTAL
from models.hierarchy.structure import LEVEL
from training.engine.forecast import Forecaster, UnknownSeriesError

__all__ = ["CODE_PACKAGES", "REQUIREMENTS", "ForecastModel", "ForecastRequestError",
           "UnknownSeriesRequest", "answer", "code_paths", "input_example", "log_forecast_model",
           "model_card", "pinned_requirements", "served_model"]

_MODEL_CODE = Path(__file__).with_name("pyfunc_code.py")
#: The packages logged with the model (its `code/` folder): all the model imports of ours.
CODE_PACKAGES = (features, models, training)
#: What the model's code imports when it loads and predicts, pinned to the installed versions.
REQUIREMENTS = ("mlflow-skinny", "cloudpickle", "numpy", "pandas", "pyarrow", "scipy",
                "scikit-learn", "lightgbm", "matplotlib", "tqdm")


class ForecastRequestError(MlflowException):
    """A request the model cannot answer (bad params or input); HTTP 400 when served."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class UnknownSeriesRequest(ForecastRequestError, UnknownSeriesError):
    """Requested series that were not in the training data."""

    def __str__(self) -> str:
        return self.message


class ForecastModel(PythonModel):
    """Pyfunc wrapper around a fitted `Forecaster` (loaded from the `forecaster` artifact)."""

    def load_context(self, context: PythonModelContext) -> None:
        with open(context.artifacts["forecaster"], "rb") as fh:
            self.forecaster: Forecaster = pickle.load(fh)

    def predict(self, context: PythonModelContext,  # noqa: ARG002
                model_input: pd.DataFrame, params: dict[str, Any] | None = None
                ) -> pd.DataFrame:
        """Forecast rows for the requested series (see the module doc)."""
        return answer(self.forecaster, model_input, params or {})


def answer(forecaster: Forecaster, series: pd.DataFrame, params: dict[str, Any]
           ) -> pd.DataFrame:
    """Validate the request and forecast; errors become `ForecastRequestError`s."""
    missing = [c for c in (NODE, ITEM) if c not in series]
    if missing:
        raise ForecastRequestError(f"input rows need columns {NODE!r} and {ITEM!r}; "
                                   f"missing {missing}.")
    horizon = int(params.get("horizon") or forecaster.horizon)
    quantiles = params.get("quantiles")
    quantiles = DEFAULT_QUANTILES if quantiles is None or len(quantiles) == 0 else quantiles
    qs = [float(q) for q in quantiles]
    model = str(params.get("model") or served_model(forecaster))
    reconcile = str(params.get("reconcile") or "") or None
    planned = series[DATE].notna() if DATE in series else pd.Series(False, index=series.index)
    leveled = _level_rows(series, every=reconcile is not None)
    if (leveled & planned).any():
        raise ForecastRequestError("planned price/promo rows (with a `date`) apply to bottom "
                                   "series without `level` or `reconcile`; send them apart.")
    parts = []
    try:
        flat = series[~leveled]  # a planned row also asks for its series, as before
        if len(flat) or not leveled.any():
            future = series.loc[planned, [c for c in (DATE, NODE, ITEM, PRICE, PROMO)
                                          if c in series]]
            parts.append(forecaster.predict(flat[[NODE, ITEM]].drop_duplicates(),
                                            horizon=horizon, quantiles=qs, model=model,
                                            future=future if len(future) else None))
        if leveled.any():
            keys = series.loc[leveled, [c for c in (LEVEL, NODE, ITEM) if c in series]]
            parts.append(forecaster.predict_levels(keys.drop_duplicates(), horizon=horizon,
                                                   quantiles=qs, model=model,
                                                   reconcile=reconcile))
    except UnknownSeriesError as exc:
        raise UnknownSeriesRequest(str(exc)) from exc
    except ValueError as exc:
        raise ForecastRequestError(str(exc)) from exc
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _level_rows(series: pd.DataFrame, *, every: bool) -> pd.Series:
    """Rows asking for a level forecast: a non-empty `level` (all rows when `every`)."""
    if every:
        return pd.Series(True, index=series.index)
    if LEVEL not in series:
        return pd.Series(False, index=series.index)
    level = series[LEVEL]
    return level.notna() & (level.astype(str).str.strip() != "")


def served_model(forecaster: Forecaster) -> str:
    """The model answered when a request names none: `auto` when it was trained, else the
    first of its models (`models.zoo.primary_model`, the model the registry scored)."""
    return forecaster.primary


def model_card(forecaster: Forecaster, *, spec: FeatureSpec | None = None) -> dict[str, Any]:
    """What the model is: origin, horizon, models, series count, choice counts, features."""
    chosen = pd.Series(forecaster.chosen).value_counts()
    return {
        "origin": f"{forecaster.origin:%Y-%m-%d}",
        "freq": forecaster.freq,
        "horizon": forecaster.horizon,
        "dates": [f"{d:%Y-%m-%d}" for d in forecaster.dates],
        "models": forecaster.models,
        "served_model": forecaster.primary,
        "series": len(forecaster.keys),
        "auto_choice_counts": {str(k): int(v) for k, v in chosen.items()},
        "feature_spec": asdict(spec or FeatureSpec.for_freq(forecaster.freq)),
        "lgbm_rounds": getattr(forecaster.lgbm, "best_rounds_", None),
        "state": _state_card(forecaster),
        "levels": _levels_card(forecaster),
    }


def _levels_card(forecaster: Forecaster) -> dict[str, Any] | None:
    levels = getattr(forecaster, "levels", None)
    if levels is None:
        return None
    per_level = levels.hierarchy.keys[LEVEL].value_counts()
    return {"series": levels.hierarchy.n_all, "bottom": levels.hierarchy.n_bottom,
            "per_level": {str(k): int(v) for k, v in per_level.items()},
            "reconcile_default": levels.method, "methods": sorted(levels.reconcilers)}


def _state_card(forecaster: Forecaster) -> dict[str, Any] | None:
    state = forecaster.state
    if state is None:
        return None
    return {"tail_periods": state.periods, "tail_rows": len(state.tail),
            "tail_from": f"{state.tail[DATE].min():%Y-%m-%d}",
            "ets_series": None if state.ets is None else len(state.ets.form),
            "lgbm": state.lgbm is not None, "node_table": state.nodes is not None,
            "roll_forward": "Forecaster.update(new sell-through rows)"}


def input_example(forecaster: Forecaster, *, series: int = 3) -> pd.DataFrame:
    """Requested series plus one row of planned values (a promotion in the first period,
    when LightGBM was trained) and one aggregate series (the total, when the model has
    levels)."""
    keys = forecaster.keys[[NODE, ITEM]].head(series).astype(str).reset_index(drop=True)
    parts = [keys]
    if forecaster.state is not None and forecaster.state.lgbm is not None:
        parts = [keys.assign(**{DATE: None, PRICE: np.nan, PROMO: np.nan}),
                 keys.head(1).assign(**{DATE: f"{forecaster.dates[0]:%Y-%m-%d}",
                                        PRICE: np.nan, PROMO: 1.0})]
    if forecaster.levels is not None:
        parts.append(pd.DataFrame({NODE: [TOTAL], ITEM: [ALL_SKUS], LEVEL: ["total"]}))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else keys


def log_forecast_model(forecaster: Forecaster, *, name: str = "model",
                       example_series: int = 3) -> ModelInfo:
    """Log the forecaster as a pyfunc model with signature and input example into the
    active run."""
    keys = input_example(forecaster, series=example_series)
    params = {"horizon": forecaster.horizon, "quantiles": list(DEFAULT_QUANTILES),
              "model": served_model(forecaster), "reconcile": ""}
    output = answer(forecaster, keys, params)
    with warnings.catch_warnings():  # the int `step` column: it is never missing
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(keys, output, params=params)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        artifacts = {"forecaster": str(folder / "forecaster.pkl"),
                     "model_card": str(folder / "model_card.json")}
        with open(artifacts["forecaster"], "wb") as fh:
            pickle.dump(forecaster, fh, protocol=pickle.HIGHEST_PROTOCOL)
        Path(artifacts["model_card"]).write_text(json.dumps(model_card(forecaster), indent=2))
        if forecaster.lgbm is not None:
            artifacts["lgbm_booster"] = str(folder / "lgbm_booster.txt")
            forecaster.lgbm.booster_.save_model(artifacts["lgbm_booster"])
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(_MODEL_CODE), artifacts=artifacts,
            signature=signature, input_example=(keys, params),
            pip_requirements=pinned_requirements(), code_paths=code_paths())


def code_paths() -> list[str]:
    """The folders of `CODE_PACKAGES`, wherever they are installed (checkout or wheel)."""
    return [package.__path__[0] for package in CODE_PACKAGES]


def pinned_requirements() -> list[str]:
    """`REQUIREMENTS` as `name==installed version` (unpinned when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in REQUIREMENTS:
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            out.append(package)
    return out
