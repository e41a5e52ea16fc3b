"""Model lines as use cases: register a trained version, promote, demote and retire versions,
change a version's threshold, and the directory of lines the scorers read their champions from.

Lines are saved through the alerts' application, so promotions share the one log auditors
replay. The directory follows that log and reads only the ModelLine events stored since its
last look (the store filters them by topic), so a scorer looking before every batch pays one
small query, and a promotion takes effect at the next batch, in every process, without a
restart and without a record scored by neither version.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.detection import ModelCard
from vigil.application.log_changes import changed_since
from vigil.domain.errors import ModelLineNotFound
from vigil.domain.model_line import ModelLine, ModelStage, ModelVersion, model_line_id
from vigil.domain.severity import SeverityBands

Served = list[tuple[ModelLine, ModelVersion]]
FIRST_CHAMPION = "the line's first version: nothing decided for it before"

_TOPICS = [
    get_topic(event)
    for event in (
        ModelLine.Started,
        ModelLine.VersionRegistered,
        ModelLine.Promoted,
        ModelLine.Demoted,
        ModelLine.Retired,
        ModelLine.ThresholdChanged,
    )
]


@dataclass(frozen=True)
class Registered:
    line: ModelLine
    version: ModelVersion
    new: bool
    """False when the line had this artifact already: nothing was recorded."""


def register_version(
    desk: AlertDesk, tenant_id: str, actor: str, card: ModelCard, note: str = ""
) -> Registered:
    """Registers a trained version on its line, starting the line if it is new; a line without
    a champion gets this version as its champion in the same save."""
    line = find_model_line(desk, tenant_id, card.model_line)
    if line is None:
        line = ModelLine.start(tenant_id, actor, desk.clock(), card.model_line, card.source)
    new = line.register(actor, desk.clock(), card.to_json(), card.bands, note)
    if new and line.champion is None:
        line.promote(actor, desk.clock(), card.version, ModelStage.CHAMPION, FIRST_CHAMPION)
    try:
        desk.save(line)
    except IntegrityError:
        # Another trainer saved the line since it was read: register on theirs.
        return register_version(desk, tenant_id, actor, card, note)
    return Registered(line, line.model_version(card.version), new)


def move_version(
    desk: AlertDesk,
    tenant_id: str,
    actor: str,
    line_name: str,
    version: str,
    stage: ModelStage,
    reason: str,
) -> ModelLine:
    """To shadow or champion (promote), back to registered (demote), or retired."""
    line = get_model_line(desk, tenant_id, line_name)
    at = desk.clock()
    if stage is ModelStage.REGISTERED:
        line.demote(actor, at, version, reason)
    elif stage is ModelStage.RETIRED:
        line.retire(actor, at, version, reason)
    else:
        line.promote(actor, at, version, stage, reason)
    desk.save(line)
    return line


def change_threshold(
    desk: AlertDesk,
    tenant_id: str,
    actor: str,
    line_name: str,
    version: str,
    bands: SeverityBands,
    reason: str,
) -> ModelLine:
    line = get_model_line(desk, tenant_id, line_name)
    line.change_threshold(actor, desk.clock(), version, bands, reason)
    desk.save(line)
    return line


def find_model_line(desk: AlertDesk, tenant_id: str, name: str) -> ModelLine | None:
    return desk.owned(tenant_id, model_line_id(tenant_id, name.strip()), ModelLine)


def get_model_line(desk: AlertDesk, tenant_id: str, name: str) -> ModelLine:
    line = find_model_line(desk, tenant_id, name)
    if line is None:
        raise ModelLineNotFound(name)
    return line


class ModelLineDirectory:
    """Every tenant's model lines, current as of the last `refresh`."""

    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk
        self.position = 0
        """The notification id of the last ModelLine event read."""
        self._lines: dict[UUID, ModelLine] = {}

    def refresh(self) -> None:
        """Reads what changed since the last look. Blocking: async callers use a thread."""
        self.position, changed = changed_since(self.desk, self.position, _TOPICS, ModelLine)
        for line in changed:
            self._lines[line.id] = line

    def lines(self, tenant_id: str, source: str | None = None) -> list[ModelLine]:
        """The tenant's lines (of one source), by name, as of the last refresh."""
        found = [
            line
            for line in self._lines.values()
            if line.tenant_id == tenant_id and source in (None, line.source)
        ]
        return sorted(found, key=lambda line: line.name)

    def line(self, tenant_id: str, name: str) -> ModelLine:
        """Refreshed, then the tenant's line of that name, or ModelLineNotFound."""
        self.refresh()
        found = self._lines.get(model_line_id(tenant_id, name.strip()))
        if found is None:
            raise ModelLineNotFound(name)
        return found

    def served(self, tenant_id: str, source: str) -> tuple[Served, Served]:
        """Refreshed once, then the source's champions (one per line that has one) and every
        version in shadow on its lines, each with its line."""
        self.refresh()
        lines = self.lines(tenant_id, source)
        champions = [(line, line.champion) for line in lines if line.champion is not None]
        return champions, [(line, v) for line in lines for v in line.shadows]

    def champions(self, tenant_id: str, source: str) -> Served:
        """Refreshed, then every line of the source that has a champion, with it."""
        return self.served(tenant_id, source)[0]
