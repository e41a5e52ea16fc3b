"""Exact TreeSHAP contributions of each feature to a boosted-tree score, read from the ONNX
artifact that computed the score, in its log-odds: `base + contributions.sum() == margin`, and
`sigmoid(margin)` is the score.

TreeSHAP's value of a coalition S of features, for one leaf of value v, is the product game
v * prod(o_j for j in S) * prod(z_j for j not in S) over the features on the leaf's path, where
o_j says whether the row passes every test on feature j along the path and z_j is the share of
training cover that passes them. Its Shapley values have a closed form,

    phi_i = v * (o_i - z_i) * integral from 0 to 1 of prod(z_j + (o_j - z_j) * t for j != i) dt

(the Shapley weights |S|! (m - |S| - 1)! / m! are Beta integrals), and the integrand is a
polynomial of degree m - 1, so Gauss-Legendre quadrature with ceil(m / 2) points is exact. That
turns every path of every tree into the same few array operations, so rows are explained in
batches with numpy rather than by walking trees in Python. The result equals LightGBM's
`pred_contrib` to 1e-7 and XGBoost's `pred_contribs` to 3e-6 (XGBoost sums in float32). For 200
trees of up to 31 leaves on 15 features (about 2,900 leaf paths) it takes about 0.25 ms for one
row and 0.2 ms a row in batches, on one core.

Any summing TreeEnsembleRegressor with node covers reads the same way: the isolation forest's
sum of path lengths is explained by this class too (`isolation_forest_explanations`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper
from scipy import sparse

from vigil.infrastructure.training.contributions import Contributions, UnexplainableArtifact

ELEMENTS_PER_CHUNK = 1_000_000
"""Rows are explained in chunks whose [paths, features, rows] arrays stay near 8 MB each."""


@dataclass(frozen=True)
class LeafPath:
    """A leaf and the tests on the way to it, merged per feature as TreeSHAP merges them."""

    features: tuple[int, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    zero: tuple[float, ...]
    missing_passes: tuple[bool, ...]
    value: float


class TreeShap:
    """Explains the sum of one tree-ensemble artifact (the log-odds of fraud of an artifact that
    `gradient_boosting` exported); `base` is the sum for the cover-weighted average row."""

    def __init__(self, features: tuple[str, ...], base: float, paths: list[LeafPath]) -> None:
        self.features = features
        self.base = base + sum(path.value * math.prod(path.zero) for path in paths)
        self._groups = _grouped(paths, len(features))

    @classmethod
    def from_artifact(cls, artifact: bytes) -> TreeShap:
        return cls.from_model(onnx.load_from_string(artifact))

    @classmethod
    def from_model(cls, model: onnx.ModelProto) -> TreeShap:
        properties = {prop.key: prop.value for prop in model.metadata_props}
        features = tuple(json.loads(properties["features"]))
        ensemble = tree_ensemble(model)
        if "nodes_hitrates" not in ensemble:
            raise UnexplainableArtifact(
                "the artifact records no node covers (nodes_hitrates) to weigh paths"
            )
        base = float(sum(ensemble.get("base_values", [0.0])))
        return cls(features, base, _leaf_paths(ensemble))

    def explain(self, rows: np.ndarray) -> Contributions:
        """Contributions for float32 rows [N, width] (one row may be given as [width])."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float32)).astype(np.float64)
        if rows.shape[1] != len(self.features):
            raise ValueError(f"rows of {rows.shape[1]} values for {len(self.features)} features")
        values = np.zeros((len(rows), len(self.features)))
        for group in self._groups:
            for start, stop in _chunks(len(rows), group):
                values[start:stop] += _contributions(group, rows[start:stop])
        return Contributions(self.features, self.base, values)


def tree_ensemble(model: onnx.ModelProto) -> dict[str, Any]:
    """The attributes of the artifact's one summing, single-target tree ensemble."""
    ensembles = [node for node in model.graph.node if node.op_type == "TreeEnsembleRegressor"]
    if len(ensembles) != 1:
        raise ValueError(f"the artifact has {len(ensembles)} tree ensembles; TreeSHAP needs one")
    attributes = {a.name: helper.get_attribute_value(a) for a in ensembles[0].attribute}
    if attributes.get("aggregate_function", b"SUM") != b"SUM" or attributes.get("n_targets") != 1:
        raise ValueError("TreeSHAP needs one target summed over the trees")
    return attributes


def _leaf_paths(ensemble: dict[str, Any]) -> list[LeafPath]:
    nodes = _Nodes(ensemble)
    return [path for root in nodes.roots() for path in nodes.paths_from(root)]


class _Nodes:
    """The ensemble's flat node attributes, walked tree by tree."""

    def __init__(self, ensemble: dict[str, Any]) -> None:
        self.trees: list[int] = ensemble["nodes_treeids"]
        self.features: list[int] = ensemble["nodes_featureids"]
        self.modes: list[bytes] = ensemble["nodes_modes"]
        self.thresholds: list[float] = ensemble["nodes_values"]
        self.covers: list[float] = ensemble["nodes_hitrates"]
        self.missing_true: list[int] = ensemble.get(
            "nodes_missing_value_tracks_true", [0] * len(self.trees)
        )
        position = {
            key: i for i, key in enumerate(zip(self.trees, ensemble["nodes_nodeids"], strict=True))
        }

        def positions(ids: list[int]) -> list[int]:
            return [position.get(key, -1) for key in zip(self.trees, ids, strict=True)]

        self.true = positions(ensemble["nodes_truenodeids"])
        self.false = positions(ensemble["nodes_falsenodeids"])
        self.leaf_values = [0.0] * len(self.trees)
        for tree, node, weight in zip(
            ensemble["target_treeids"],
            ensemble["target_nodeids"],
            ensemble["target_weights"],
            strict=True,
        ):
            self.leaf_values[position[tree, node]] += weight

    def roots(self) -> list[int]:
        branches = [i for i, mode in enumerate(self.modes) if mode != b"LEAF"]
        children = {self.true[i] for i in branches} | {self.false[i] for i in branches}
        return [i for i in range(len(self.trees)) if i not in children]

    def paths_from(self, root: int) -> Iterator[LeafPath]:
        # Per feature on the path so far: lower, upper, share of cover passing, NaN passes.
        pending: list[tuple[int, dict[int, tuple[float, float, float, bool]]]] = [(root, {})]
        while pending:
            node, tests = pending.pop()
            if self.modes[node] == b"LEAF":
                yield _leaf_path(tests, self.leaf_values[node])
                continue
            feature, threshold = self.features[node], self._upper_bound(node)
            for child, passes in ((self.true[node], True), (self.false[node], False)):
                lower, upper, zero, missing = tests.get(feature, (-np.inf, np.inf, 1.0, True))
                if passes:
                    upper = min(upper, threshold)
                else:
                    lower = max(lower, threshold)
                share = self.covers[child] / self.covers[node] if self.covers[node] > 0 else 0.0
                missing = missing and bool(self.missing_true[node]) == passes
                pending.append((child, {**tests, feature: (lower, upper, zero * share, missing)}))

    def _upper_bound(self, node: int) -> float:
        """The largest float32 x the node sends to its true side."""
        mode, threshold = self.modes[node], np.float32(self.thresholds[node])
        if mode == b"BRANCH_LEQ":
            return float(threshold)
        if mode == b"BRANCH_LT":
            return float(np.nextafter(threshold, np.float32(-np.inf)))
        raise ValueError(f"TreeSHAP reads BRANCH_LEQ and BRANCH_LT nodes, not {mode.decode()}")


def _leaf_path(tests: dict[int, tuple[float, float, float, bool]], value: float) -> LeafPath:
    features = tuple(sorted(tests))
    lower, upper, zero, missing = (
        zip(*(tests[f] for f in features), strict=True) if tests else ((), (), (), ())
    )
    return LeafPath(features, tuple(lower), tuple(upper), tuple(zero), tuple(missing), value)


@dataclass(frozen=True)
class _PathGroup:
    """Leaf paths padded to the same number of features, explained at the same quadrature points.

    Per path, feature and point, a factor of the path's product is `passing` when the row passes
    the feature's tests and `failing` otherwise; `log_failing` is the log of the product when
    the row fails them all, `log_ratio` what passing a feature adds to it. Contributions are the
    products weighed by `if_passing` or `if_failing`, which fold in the leaf value, the
    quadrature weight and the division by the feature's own factor. Arrays are path-major, so
    each step is one product over all paths at once.
    """

    features: np.ndarray  # [paths, width] feature index
    lower: np.ndarray  # [paths, width, 1]: a row passes when lower < x <= upper
    upper: np.ndarray
    missing_passes: np.ndarray  # [paths, width, 1]: whether NaN passes
    log_failing: np.ndarray  # [paths, points, 1]
    log_ratio: np.ndarray  # [paths, points, width]
    if_passing: np.ndarray  # [paths, width, points]
    if_failing: np.ndarray
    columns: sparse.csr_matrix  # [features, paths * width]: the column each path feature adds to


def _grouped(paths: list[LeafPath], columns: int) -> list[_PathGroup]:
    by_points: dict[int, list[LeafPath]] = {}
    for path in paths:
        if path.features:  # a tree of one leaf adds to the base only
            by_points.setdefault(math.ceil(len(path.features) / 2), []).append(path)
    return [_group(group, points, columns) for points, group in sorted(by_points.items())]


def _group(paths: list[LeafPath], points: int, columns: int) -> _PathGroup:
    width = 2 * points

    # Padding is a feature every row passes with all the cover: it never changes a product.
    def padded(values: list[Sequence[Any]], fill: Any) -> np.ndarray:
        return np.array([[*value, *[fill] * (width - len(value))] for value in values])

    features = padded([p.features for p in paths], 0).astype(np.intp)
    nodes, weights = np.polynomial.legendre.leggauss(points)
    t, weights = (nodes + 1.0) / 2.0, weights / 2.0
    # A share of zero cover would put log(0) in the sums; 1e-12 of a leaf value is no error.
    zero = np.maximum(padded([p.zero for p in paths], 1.0), 1e-12)[..., None]
    passing, failing = zero + (1.0 - zero) * t, zero * (1.0 - t)  # [paths, width, points]
    values = np.array([path.value for path in paths])[:, None, None] * weights
    return _PathGroup(
        features=features,
        lower=padded([p.lower for p in paths], -np.inf)[..., None],
        upper=padded([p.upper for p in paths], np.inf)[..., None],
        missing_passes=padded([p.missing_passes for p in paths], True).astype(bool)[..., None],
        log_failing=np.log(failing).sum(axis=1)[..., None],
        log_ratio=(np.log(passing) - np.log(failing)).transpose(0, 2, 1).copy(),
        if_passing=values * (1.0 - zero) / passing,
        if_failing=values * -zero / failing,
        columns=sparse.csr_matrix(
            (np.ones(features.size), (features.ravel(), np.arange(features.size))),
            shape=(columns, features.size),
        ),
    )


def _chunks(rows: int, group: _PathGroup) -> Iterator[tuple[int, int]]:
    step = max(1, ELEMENTS_PER_CHUNK // group.features.size)
    for start in range(0, rows, step):
        yield start, min(start + step, rows)


def _contributions(group: _PathGroup, rows: np.ndarray) -> np.ndarray:
    x = rows.T[group.features]  # [paths, width, rows]
    passes = ((x > group.lower) & (x <= group.upper)) | (np.isnan(x) & group.missing_passes)
    logs = _per_path(group.log_ratio, passes.astype(np.float64))
    products = np.exp(group.log_failing + logs)  # [paths, points, rows]
    phi = np.where(
        passes,
        _per_path(group.if_passing, products),
        _per_path(group.if_failing, products),
    )
    # A sparse sum: each path feature's share goes to one column, every row at once.
    return np.asarray(group.columns @ phi.reshape(-1, len(rows))).T


def _per_path(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """[paths, i, k] times [paths, k, rows]: einsum is the faster for one row, matmul for more."""
    return np.einsum("pik,pkn->pin", left, right) if right.shape[2] == 1 else left @ right
