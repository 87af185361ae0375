"""Model-from-code file logged with every `channelcast-demand` version (training.tracking.pyfunc).

MLflow runs this file when it loads the model; the fitted state comes from the model's
`forecaster` artifact, so nothing here is pickled.
"""

import mlflow

from training.tracking.pyfunc import ForecastModel

mlflow.models.set_model(ForecastModel())
