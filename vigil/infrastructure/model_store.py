"""Model artifacts on disk, named by their sha256, with their cards and each source's champion.

Layout under the root: `<sha256>.onnx` (the artifact), `<sha256>.json` (its card) and
`champions/<source>.json` (which version decides for the source). The champion pointer is the
interim until ModelLine aggregates record promotions as events.
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
    TamperedArtifact,
)
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
        """Stores the artifact and its card and makes it its source's champion."""
        source = _checked_source(card.source)
        version = hashlib.sha256(artifact).hexdigest()
        card = replace(card, version=version)
        (self.root / "champions").mkdir(parents=True, exist_ok=True)
        artifact_file = self.root / f"{version}.onnx"
        if not (artifact_file.exists() and _sha256(artifact_file) == version):
            write_atomically(artifact_file, artifact)
        write_atomically(self.root / f"{version}.json", _json_bytes(card.to_json()))
        pointer = {"version": version, "model_line": card.model_line}
        write_atomically(self.root / "champions" / f"{source}.json", _json_bytes(pointer))
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

    def has_champion(self, source: str) -> bool:
        return (self.root / "champions" / f"{_checked_source(source)}.json").exists()

    def champion_card(self, source: str) -> ModelCard:
        pointer = self.root / "champions" / f"{_checked_source(source)}.json"
        try:
            version = json.loads(pointer.read_bytes())["version"]
        except FileNotFoundError:
            raise NoChampion(source) from None
        return self.card(version)


class OnnxModelRegistry(ModelRegistry):
    """Champions from a ModelStore as OnnxDetectors, each version loaded once per process.

    The champion pointer is read on every call, so a newly trained model takes over at the next
    batch; the detector of a version is cached because a version never changes.
    """

    def __init__(self, store: ModelStore, threads: int = 1) -> None:
        self.store = store
        self.threads = threads
        self._detectors: dict[str, OnnxDetector] = {}

    def champion(self, source: str) -> Detector:
        card = self.store.champion_card(source)
        detector = self._detectors.get(card.version)
        if detector is None:
            path = self.store.artifact_path(card.version)
            detector = OnnxDetector(card, path, threads=self.threads)
            self._detectors[card.version] = detector
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
