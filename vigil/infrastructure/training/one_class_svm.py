"""The One-Class SVM trainer: sklearn's RBF OneClassSVM, exported through skl2onnx.

skl2onnx emits an SVMRegressor (the decision function) followed by the nodes of a predicted
label. Vigil keeps only the SVMRegressor and negates its output, so the artifact is two nodes
whose one output is the anomaly score. The training rows' median travels in the artifact as
`explanation_baseline`, the reference row its explanations measure from (`svm_explanations`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.svm import OneClassSVM

from vigil.infrastructure.training.fitted import INPUT, OUTPUT, FittedDetector
from vigil.infrastructure.training.svm_explanations import BASELINE

OPSETS = {"": 17, "ai.onnx.ml": 3}


@dataclass(frozen=True)
class OneClassSvmTrainer:
    """Unsupervised, with pyod's OCSVM defaults; the score is `-decision_function`.

    The inputs are not scaled here: an RBF kernel with gamma "auto" (1 / width) expects features
    of comparable ranges, which the caller provides (ADBench scales to [0, 1] outside the model).
    """

    nu: float = 0.5
    gamma: float | str = "auto"
    max_train_rows: int = 20_000
    """Training time and memory grow with the square of the rows; above this, a seeded sample."""

    algorithm = "one_class_svm"
    supervised = False

    def fit(
        self,
        matrix: np.ndarray,
        labels: np.ndarray | None,
        features: Sequence[str],
        seed: int,
        metadata: Mapping[str, str],
    ) -> FittedDetector:
        rows, notes = self._training_rows(matrix, seed)
        svm = OneClassSVM(kernel="rbf", nu=self.nu, gamma=self.gamma).fit(rows)

        def native_scores(x: np.ndarray) -> np.ndarray:
            return -svm.decision_function(x)

        return FittedDetector(
            algorithm=self.algorithm,
            artifact=export_one_class_svm(svm, features, metadata, np.median(rows, axis=0)),
            native_scores=native_scores,
            parameters={
                "kernel": "rbf",
                "nu": self.nu,
                "gamma": self.gamma,
                "max_train_rows": self.max_train_rows,
                "training_rows": len(rows),
                "support_vectors": len(svm.support_),
                "seed": seed,
                "opsets": OPSETS,
            },
            notes=notes,
        )

    def _training_rows(self, matrix: np.ndarray, seed: int) -> tuple[np.ndarray, list[str]]:
        if len(matrix) <= self.max_train_rows:
            return matrix, []
        chosen = np.random.default_rng(seed).choice(len(matrix), self.max_train_rows, replace=False)
        note = (
            f"trained on {self.max_train_rows:,} of {len(matrix):,} rows, sampled with seed "
            f"{seed}: One-Class SVM training grows with the square of the rows"
        )
        return matrix[np.sort(chosen)], [note]


def export_one_class_svm(
    svm: OneClassSVM, features: Sequence[str], metadata: Mapping[str, str], baseline: np.ndarray
) -> bytes:
    """The ONNX bytes of `score = -svm.decision_function(x)` for float32 rows of `features`,
    with `baseline`, the reference row of its explanations, among the model's properties."""
    width = len(features)
    converted = to_onnx(
        svm, initial_types=[(INPUT, FloatTensorType([None, width]))], target_opset=OPSETS
    )
    (regressor,) = [node for node in converted.graph.node if node.op_type == "SVMRegressor"]
    regressor.output[0] = "decision"
    graph = helper.make_graph(
        [regressor, helper.make_node("Neg", ["decision"], [OUTPUT])],
        "one_class_svm",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(domain, v) for domain, v in OPSETS.items()],
        producer_name="vigil",
    )
    properties = {
        "features": json.dumps(list(features)),
        BASELINE: json.dumps([float(value) for value in baseline]),
        **metadata,
    }
    helper.set_model_props(model, properties)
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())
