"""Feature pipelines at work: window features from entity histories, fitting, and the matrix a
model is trained on, computed offline by the same code that computes them online."""

from vigil.application.features.file_features import FileFeatures, file_features
from vigil.application.features.fitting import FittedPipeline, fit
from vigil.application.features.label_feed import (
    ObservedRecords,
    RecordsInTurn,
    RecordVerdict,
    feed_labels,
    record_verdict,
)
from vigil.application.features.training import (
    FeatureRow,
    OnlineFeatures,
    TrainingMatrix,
    feature_row,
    training_matrix,
    window_input,
)
from vigil.application.features.window_history import InProcessWindowStore
from vigil.application.features.windows import (
    HistoryLayout,
    WindowInput,
    WindowStore,
    history_layouts,
)

__all__ = [
    "FeatureRow",
    "FileFeatures",
    "FittedPipeline",
    "HistoryLayout",
    "InProcessWindowStore",
    "ObservedRecords",
    "OnlineFeatures",
    "RecordVerdict",
    "RecordsInTurn",
    "TrainingMatrix",
    "WindowInput",
    "WindowStore",
    "feature_row",
    "feed_labels",
    "file_features",
    "fit",
    "history_layouts",
    "record_verdict",
    "training_matrix",
    "window_input",
]
