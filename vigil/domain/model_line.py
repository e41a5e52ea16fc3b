"""The ModelLine aggregate: the trained versions of one model for one source, and which of them
decides.

A version is registered once, by the sha256 of its ONNX artifact, with its model card (metrics,
parameters, feature schema, training-data fingerprint) as the trainer wrote it. Versions then
move through stages: a registered version may go into shadow (it scores the same records as the
champion, for comparison, and raises nothing) or be promoted to champion; promoting a champion
sends the one it replaces back to registered in the same event, so a line never has two. A
champion or shadow can be demoted to registered; any version can be retired, and a retired
version stays retired: its artifact is the same bytes forever, so it is never registered again.
The alerting threshold and severity bands of a version can be changed, with a reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import (
    IllegalModelStage,
    InvalidCommand,
    ModelVersionIsRetired,
    ModelVersionNotFound,
)
from vigil.domain.severity import SeverityBands
from vigil.domain.stamps import event_stamp
from vigil.domain.text import bounded_text, required_text

MODEL_LINE_NAMESPACE = UUID("5b1f0c9e-2d4a-5e8b-9c7f-3a6d1e0b8f42")
_LINE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_VERSION = re.compile(r"[0-9a-f]{64}")


class ModelStage(StrEnum):
    REGISTERED = "registered"
    SHADOW = "shadow"
    CHAMPION = "champion"
    RETIRED = "retired"


def model_line_id(tenant_id: str, name: str) -> UUID:
    return uuid5(MODEL_LINE_NAMESPACE, f"{tenant_id}\x1f{name}")


def line_name(field: str, value: str) -> str:
    name = value.strip()
    if not _LINE_NAME.fullmatch(name):
        raise InvalidCommand(
            field, f"{name!r} is not a model line name: 1-128 of letters, digits, '_', '.', '-'"
        )
    return name


def checked_bands(field: str, bands: SeverityBands) -> SeverityBands:
    values = (bands.threshold, bands.high, bands.critical)
    if not all(math.isfinite(v) for v in values):
        raise InvalidCommand(field, "threshold, high and critical must be finite numbers")
    if not bands.threshold <= bands.high <= bands.critical:
        raise InvalidCommand(field, "needs threshold <= high <= critical")
    return bands


@dataclass(frozen=True)
class ModelVersion:
    version: str
    """The sha256 (hex) of the ONNX artifact."""
    card: Mapping[str, Any]
    """The model card as the trainer wrote it: algorithm, features, metrics, parameters."""
    bands: SeverityBands
    note: str
    registered_by: str
    registered_at: datetime
    stage: ModelStage = ModelStage.REGISTERED


class ModelLine(Aggregate):
    """One model of a source over its versions; at most one champion decides."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Started(Event, Aggregate.Created):
        name: str
        source: str

    def __init__(self, tenant_id: str, actor: str, name: str, source: str) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.source = source
        self.started_by = actor
        self.versions: dict[str, ModelVersion] = {}

    @classmethod
    def start(cls, tenant_id: str, actor: str, at: datetime, name: str, source: str) -> ModelLine:
        tenant_id = required_text("tenant_id", tenant_id)
        name = line_name("model_line", name)
        return cls._create(
            cls.Started,
            id=model_line_id(tenant_id, name),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            name=name,
            source=required_text("source", source),
        )

    @property
    def champion(self) -> ModelVersion | None:
        return next((v for v in self.versions.values() if v.stage is ModelStage.CHAMPION), None)

    @property
    def shadows(self) -> tuple[ModelVersion, ...]:
        return tuple(v for v in self.versions.values() if v.stage is ModelStage.SHADOW)

    def model_version(self, version: str) -> ModelVersion:
        """The version registered under that digest, or ModelVersionNotFound."""
        found = self.versions.get(version.strip().lower())
        if found is None:
            raise ModelVersionNotFound(self.name, version)
        return found

    # Invariants -------------------------------------------------------------------------------

    def check_not_retired(self, version: ModelVersion) -> None:
        if version.stage is ModelStage.RETIRED:
            raise ModelVersionIsRetired(f"version {version.version[:12]} of {self.name} is retired")

    def check_promotable(self, version: ModelVersion, stage: ModelStage) -> None:
        self.check_not_retired(version)
        if stage not in (ModelStage.SHADOW, ModelStage.CHAMPION):
            raise InvalidCommand(
                "stage", f"a version is promoted to shadow or champion, not {stage}"
            )
        if version.stage is stage:
            raise IllegalModelStage(f"version {version.version[:12]} is {stage} already")

    def check_demotable(self, version: ModelVersion) -> None:
        if version.stage not in (ModelStage.SHADOW, ModelStage.CHAMPION):
            raise IllegalModelStage(
                f"version {version.version[:12]} is {version.stage}; only a champion or a shadow"
                " is demoted"
            )

    # Commands ---------------------------------------------------------------------------------

    def register(
        self, actor: str, at: datetime, card: Mapping[str, Any], bands: SeverityBands, note: str
    ) -> bool:
        """Registers the card's version; False, recording nothing, when it is registered
        already. The card names its version (`version`) and its source (`source`)."""
        version = str(card.get("version", "")).strip().lower()
        if not _VERSION.fullmatch(version):
            raise InvalidCommand("version", "must be the artifact's sha256 in hex")
        if card.get("source") != self.source:
            raise InvalidCommand(
                "source", f"the line {self.name} scores {self.source}, not {card.get('source')}"
            )
        if version in self.versions:
            return False
        self.trigger_event(
            self.VersionRegistered,
            **self._stamp(actor, at),
            version=version,
            card=dict(card),
            bands=_bands_dict(checked_bands("bands", bands)),
            note=bounded_text("note", note),
        )
        return True

    def promote(
        self, actor: str, at: datetime, version: str, stage: ModelStage, reason: str
    ) -> None:
        """Into shadow, or to champion, sending the champion it replaces back to registered."""
        found = self.model_version(version)
        self.check_promotable(found, stage)
        replaced = None
        if stage is ModelStage.CHAMPION and self.champion is not None:
            replaced = self.champion.version
        self.trigger_event(
            self.Promoted,
            **self._stamp(actor, at, reason),
            version=found.version,
            stage=str(stage),
            replaced=replaced,
        )

    def demote(self, actor: str, at: datetime, version: str, reason: str) -> None:
        """A champion or a shadow back to registered; demoting the champion leaves none."""
        found = self.model_version(version)
        self.check_demotable(found)
        self.trigger_event(self.Demoted, **self._stamp(actor, at, reason), version=found.version)

    def retire(self, actor: str, at: datetime, version: str, reason: str) -> None:
        found = self.model_version(version)
        if found.stage is ModelStage.RETIRED:
            raise ModelVersionIsRetired(f"version {found.version[:12]} is retired already")
        self.trigger_event(self.Retired, **self._stamp(actor, at, reason), version=found.version)

    def change_threshold(
        self, actor: str, at: datetime, version: str, bands: SeverityBands, reason: str
    ) -> None:
        found = self.model_version(version)
        self.check_not_retired(found)
        checked = checked_bands("bands", bands)
        if checked == found.bands:
            raise InvalidCommand("bands", "are the version's bands already")
        self.trigger_event(
            self.ThresholdChanged,
            **self._stamp(actor, at, reason),
            version=found.version,
            bands=_bands_dict(checked),
        )

    def _stamp(self, actor: str, at: datetime, reason: str | None = None) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at, reason)

    def _move(self, version: str, stage: ModelStage) -> None:
        self.versions[version] = replace(self.versions[version], stage=stage)

    # Events -----------------------------------------------------------------------------------

    class VersionRegistered(Event):
        version: str
        card: dict[str, Any]
        bands: dict[str, float]
        note: str

        def apply(self, line: ModelLine) -> None:
            line.versions[self.version] = ModelVersion(
                self.version, self.card, _bands(self.bands), self.note, self.actor, self.timestamp
            )

    class Promoted(Event):
        version: str
        stage: str
        reason: str
        replaced: str | None
        """The champion until now, back to registered by this event."""

        def apply(self, line: ModelLine) -> None:
            if self.replaced is not None:
                line._move(self.replaced, ModelStage.REGISTERED)
            line._move(self.version, ModelStage(self.stage))

    class Demoted(Event):
        version: str
        reason: str

        def apply(self, line: ModelLine) -> None:
            line._move(self.version, ModelStage.REGISTERED)

    class Retired(Event):
        version: str
        reason: str

        def apply(self, line: ModelLine) -> None:
            line._move(self.version, ModelStage.RETIRED)

    class ThresholdChanged(Event):
        version: str
        bands: dict[str, float]
        reason: str

        def apply(self, line: ModelLine) -> None:
            found = line.versions[self.version]
            line.versions[self.version] = replace(found, bands=_bands(self.bands))


def _bands_dict(bands: SeverityBands) -> dict[str, float]:
    return {"threshold": bands.threshold, "high": bands.high, "critical": bands.critical}


def _bands(values: Mapping[str, float]) -> SeverityBands:
    return SeverityBands(
        float(values["threshold"]), float(values["high"]), float(values["critical"])
    )
