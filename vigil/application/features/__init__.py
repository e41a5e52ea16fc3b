"""Feature pipelines at work: window features from entity histories, fitting, and the matrix a
model is trained on, computed offline by the same code that computes them online."""

from vigil.application.features.fitting import FittedPipeline, fit
from vigil.application.features.training import (
    OnlineFeatures,
    TrainingMatrix,
    feature_row,
    training_matrix,
)
from vigil.application.features.window_history import InProcessWindowStore
from vigil.application.features.windows import (
    HistoryLayout,
    WindowInput,
    WindowStore,
    history_layouts,
)

__all__ = [
    "FittedPipeline",
    "HistoryLayout",
    "InProcessWindowStore",
    "OnlineFeatures",
    "TrainingMatrix",
    "WindowInput",
    "WindowStore",
    "feature_row",
    "fit",
    "history_layouts",
    "training_matrix",
]
