"""The feature pipelines the served model versions read, as fitted inside their artifacts.

A version's fitted pipeline is in its ONNX artifact's metadata (`PIPELINE_METADATA`), where
training put it, so this reads it the way `OnnxDetector` does; a version never changes, so each
is read once per process.
"""

from __future__ import annotations

import hashlib
import json

import onnxruntime as ort

from vigil.application.detection import TamperedArtifact
from vigil.application.features.fitting import FittedPipeline
from vigil.application.model_lines import ModelLineDirectory
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.onnx_detector import PIPELINE_METADATA


class ServedPipelines:
    """LabellingPipelines of the champion and the shadow versions of each of a source's lines."""

    def __init__(self, lines: ModelLineDirectory, store: ModelStore) -> None:
        self.lines = lines
        self.store = store
        self._fitted: dict[str, FittedPipeline | None] = {}

    def labelling(self, tenant_id: str, source: str) -> list[FeaturePipeline]:
        self.lines.refresh()
        served = [
            version.version
            for line in self.lines.lines(tenant_id, source)
            for version in (line.champion, *line.shadows)
            if version is not None
        ]
        pipelines = [fitted.pipeline for v in served if (fitted := self.fitted(v)) is not None]
        # Versions trained on one pipeline share its histories: each is labelled once.
        return list(dict.fromkeys(p for p in pipelines if p.label_steps))

    def fitted(self, version: str) -> FittedPipeline | None:
        """The version's fitted pipeline; None for a model that reads record fields as they are."""
        if version not in self._fitted:
            self._fitted[version] = _read_fitted(self.store, version)
        return self._fitted[version]


def _read_fitted(store: ModelStore, version: str) -> FittedPipeline | None:
    artifact = store.artifact_path(version).read_bytes()
    # The bytes read are the bytes checked, as in OnnxDetector: a file swapped after the
    # store's check is refused.
    actual = hashlib.sha256(artifact).hexdigest()
    if actual != version:
        raise TamperedArtifact(version, actual)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
    stored = session.get_modelmeta().custom_metadata_map.get(PIPELINE_METADATA)
    return None if stored is None else FittedPipeline.from_json(json.loads(stored))
