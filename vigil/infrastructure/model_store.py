"""Model artifacts on disk, named by their sha256, and the registry that serves the champions.

Layout under the root: `<sha256>.onnx` (the artifact) and `<sha256>.json` (its card as trained).
Which version decides is not the store's to say: ModelLine events in the event store record it
(`vigil.application.model_lines`), and the registry loads what they name.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from vigil.application.detection import (
    Detector,
    ModelCard,
    ModelRegistry,
    NoChampion,
    Scorers,
    TamperedArtifact,
)
from vigil.application.model_lines import ModelLineDirectory
from vigil.domain.model_line import ModelLine, ModelVersion
from vigil.domain.severity import SeverityBands
from vigil.infrastructure.atomic_files import write_atomically
from vigil.infrastructure.onnx_detector import OnnxDetector

VERSION = re.compile(r"[0-9a-f]{64}")
SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class UnknownModelVersion(LookupError):
    def __init__(self, version: str) -> None:
        super().__init__(f"no stored model version {version!r}")
        self.version = version


class ModelStore:
    """Content-addressed: a version is the sha256 of its bytes, so it cannot silently change."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, artifact: bytes, card: ModelCard) -> ModelCard:
        """Stores the artifact and its card; the card comes back with its version."""
        _checked_source(card.source)
        version = hashlib.sha256(artifact).hexdigest()
        card = replace(card, version=version)
        self.root.mkdir(parents=True, exist_ok=True)
        artifact_file = self.root / f"{version}.onnx"
        if not (artifact_file.exists() and _sha256(artifact_file) == version):
            write_atomically(artifact_file, artifact)
        write_atomically(self.root / f"{version}.json", _json_bytes(card.to_json()))
        return card

    def card(self, version: str) -> ModelCard:
        path = self.root / f"{_checked_version(version)}.json"
        try:
            return ModelCard.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:
            raise UnknownModelVersion(version) from None

    def artifact_path(self, version: str) -> Path:
        """The artifact's path, once its bytes are proven to hash to the version."""
        path = self.root / f"{_checked_version(version)}.onnx"
        if not path.exists():
            raise UnknownModelVersion(version)
        actual = _sha256(path)
        if actual != version:
            raise TamperedArtifact(version, actual)
        return path


class OnnxModelRegistry(ModelRegistry):
    """The champions the model lines name, as OnnxDetectors, each version loaded once per
    process (a version never changes) and graded by its line's current bands."""

    def __init__(self, lines: ModelLineDirectory, store: ModelStore, threads: int = 1) -> None:
        self.lines = lines
        self.store = store
        self.threads = threads
        self._detectors: dict[str, OnnxDetector] = {}
        self._graded: dict[tuple[str, str, SeverityBands], OnnxDetector] = {}

    def scorers(self, tenant_id: str, source: str) -> Scorers:
        champions, shadows = self.lines.served(tenant_id, source)
        if not champions:
            raise NoChampion(source)
        return Scorers(
            [self._detector(line, version) for line, version in champions],
            [self._detector(line, version) for line, version in shadows],
        )

    def line_champion(self, tenant_id: str, line: str) -> Detector:
        found = self.lines.line(tenant_id, line)
        if found.champion is None:
            raise NoChampion(found.source)
        return self._detector(found, found.champion)

    def _detector(self, line: ModelLine, version: ModelVersion) -> OnnxDetector:
        # The card is made once per (line, version, bands): it is asked for at every batch and,
        # over REST, at every request.
        key = (line.name, version.version, version.bands)
        graded = self._graded.get(key)
        if graded is not None:
            return graded
        card = replace(
            ModelCard.from_json(version.card),
            model_line=line.name,
            version=version.version,
            bands=version.bands,
        )
        detector = self._detectors.get(version.version)
        if detector is None:
            path = self.store.artifact_path(version.version)
            detector = OnnxDetector(card, path, threads=self.threads)
        elif detector.card != card:  # the line changed the version's threshold
            detector = detector.with_card(card)
        self._detectors[version.version] = detector
        self._graded[key] = detector
        return detector


def _checked_version(version: str) -> str:
    if not VERSION.fullmatch(version):
        raise UnknownModelVersion(version)
    return version


def _checked_source(source: str) -> str:
    # The source names a file: refuse anything that could climb out of the store's folder.
    if not SOURCE.fullmatch(source):
        raise ValueError(f"source {source!r} must be letters, digits, '_', '.', '-'")
    return source


def _sha256(path: Path) -> str:
    with path.open("rb") as artifact:
        return hashlib.file_digest(artifact, "sha256").hexdigest()


def _json_bytes(body: object) -> bytes:
    return json.dumps(body, indent=2, sort_keys=True).encode()
