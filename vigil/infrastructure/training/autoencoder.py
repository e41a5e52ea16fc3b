"""The autoencoder trainer: an MLP that reconstructs standardised rows through a bottleneck.

A row the network cannot reconstruct is unlike the rows it learned from; its score is the mean
squared reconstruction error in standard deviations, and the per-feature errors say which
features made it unusual. The ONNX graph is built from the MLP's weights: standardise, the
dense layers, then the squared errors and their mean (about 3 nodes a layer).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from vigil.infrastructure.training.fitted import INPUT, OUTPUT, FittedDetector

FEATURE_ERRORS = "feature_errors"
"""The artifact's second output: float32 squared errors per feature, [N, width]."""
OPSETS = {"": 17}


@dataclass(frozen=True)
class Standardiser:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fitted_on(cls, matrix: np.ndarray) -> Standardiser:
        std = matrix.std(axis=0, dtype=np.float64)
        # A constant column carries no information; std 1 keeps it at zero instead of dividing by 0.
        std[std == 0] = 1.0
        mean = matrix.mean(axis=0, dtype=np.float64)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return (np.asarray(rows, np.float32) - self.mean) / self.std


def bottleneck_layers(width: int) -> tuple[int, int, int]:
    """Widen, squeeze to about half the width (at most 16), widen again (at most 64)."""
    outer = min(64, 2 * width)
    return outer, max(1, min(16, width // 2)), outer


@dataclass(frozen=True)
class AutoencoderTrainer:
    """Unsupervised; layers default to `bottleneck_layers(width)`, ReLU, Adam, early stopping."""

    hidden_layers: tuple[int, ...] | None = None
    max_iter: int = 200
    alpha: float = 1e-4
    """L2 penalty: keeps the network from memorising the rare rows it should fail on."""

    algorithm = "autoencoder"
    supervised = False

    def fit(
        self,
        matrix: np.ndarray,
        labels: np.ndarray | None,
        features: Sequence[str],
        seed: int,
        metadata: Mapping[str, str],
    ) -> FittedDetector:
        standardise = Standardiser.fitted_on(matrix)
        layers = self.hidden_layers or bottleneck_layers(matrix.shape[1])
        network, notes = self._trained(standardise(matrix), layers, seed)

        def native_scores(rows: np.ndarray) -> np.ndarray:
            return reconstruction_errors(network, standardise(rows)).mean(axis=1)

        return FittedDetector(
            algorithm=self.algorithm,
            artifact=export_autoencoder(network, standardise, features, metadata),
            native_scores=native_scores,
            parameters={
                "hidden_layers": list(layers),
                "activation": "relu",
                "max_iter": self.max_iter,
                "alpha": self.alpha,
                "epochs": int(network.n_iter_),
                "seed": seed,
                "opsets": OPSETS,
            },
            notes=notes,
        )

    def _trained(
        self, standardised: np.ndarray, layers: tuple[int, ...], seed: int
    ) -> tuple[MLPRegressor, list[str]]:
        network = MLPRegressor(
            hidden_layer_sizes=layers,
            alpha=self.alpha,
            max_iter=self.max_iter,
            early_stopping=True,
            random_state=seed,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            network.fit(standardised, standardised)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            return network, [f"stopped at max_iter={self.max_iter} before the loss converged"]
        return network, []


def reconstruction_errors(network: MLPRegressor, standardised: np.ndarray) -> np.ndarray:
    # sklearn flattens a one-column prediction, which would broadcast against the column.
    reconstructed = network.predict(standardised).reshape(standardised.shape)
    return np.square(reconstructed - standardised)


def export_autoencoder(
    network: MLPRegressor,
    standardise: Standardiser,
    features: Sequence[str],
    metadata: Mapping[str, str],
) -> bytes:
    """ONNX bytes whose outputs are the score [N] and the per-feature squared errors [N, width]."""
    width = len(features)
    nodes, initializers = _dense_layers(network, "standardised")
    nodes = [
        helper.make_node("Sub", [INPUT, "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["standardised"]),
        *nodes,
        helper.make_node("Sub", [nodes[-1].output[0], "standardised"], ["residual"]),
        helper.make_node("Mul", ["residual", "residual"], [FEATURE_ERRORS]),
        helper.make_node("ReduceMean", [FEATURE_ERRORS], [OUTPUT], axes=[1], keepdims=0),
    ]
    initializers += [
        numpy_helper.from_array(standardise.mean, "mean"),
        numpy_helper.from_array(standardise.std, "std"),
    ]
    graph = helper.make_graph(
        nodes,
        "autoencoder",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, width])],
        [
            helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info(FEATURE_ERRORS, TensorProto.FLOAT, [None, width]),
        ],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid(domain, v) for domain, v in OPSETS.items()],
        producer_name="vigil",
    )
    helper.set_model_props(model, {"features": json.dumps(list(features)), **metadata})
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _dense_layers(
    network: MLPRegressor, source: str
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    last = len(network.coefs_) - 1
    for i, (weights, bias) in enumerate(zip(network.coefs_, network.intercepts_, strict=True)):
        initializers += [
            numpy_helper.from_array(np.asarray(weights, np.float32), f"w{i}"),
            numpy_helper.from_array(np.asarray(bias, np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [source, f"w{i}"], [f"product{i}"]),
            helper.make_node("Add", [f"product{i}", f"b{i}"], [f"layer{i}"]),
        ]
        source = f"layer{i}"
        # The output layer of an MLPRegressor is linear; the hidden ones are ReLU.
        if i < last:
            nodes.append(helper.make_node("Relu", [source], [f"relu{i}"]))
            source = f"relu{i}"
    return nodes, initializers
