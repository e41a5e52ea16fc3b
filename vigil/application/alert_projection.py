"""The alert queue projection: what each Alert event changes in the queue's row.

Projections here are pure: an event goes in, row changes come out, and the projection runner in
infrastructure writes them with its tracking position in one transaction. Every read-model row is
keyed by its aggregate's id and carries the version of the last event applied to it, so a change
that is older than the row is a no-op and replaying the log never double-counts. Later projections
(cases, labels) follow the same shape: a `name`, the `tables` they own, and `changes(event)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from uuid import UUID

from vigil.domain.alert import Alert, AlertStatus

ALERTS = "alerts"


@dataclass(frozen=True)
class RowInsert:
    """A new row, complete as of `version`; writing it again or over a newer row changes nothing."""

    table: str
    key: UUID
    version: int
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RowUpdate:
    """Changes to an existing row by the events `since`..`version` of its aggregate."""

    table: str
    key: UUID
    since: int
    version: int
    values: Mapping[str, Any] = field(default_factory=dict)
    increments: Mapping[str, int] = field(default_factory=dict)

    def applies_to(self, row_version: int) -> bool:
        """Only a row that has seen none of these events takes the change."""
        return row_version < self.since

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        changed = {**row, **self.values}
        for column, step in self.increments.items():
            changed[column] = changed[column] + step
        return changed


RowChange = RowInsert | RowUpdate


class Projection(Protocol):
    """Turns one domain event into read-model row changes; events it does not know give none."""

    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[str]: ...

    def changes(self, event: object) -> Sequence[RowChange]: ...


class AlertQueueProjection:
    """Maintains one `alerts` row per alert, as the analysts' queue lists it."""

    name = "alert_queue"
    tables = (ALERTS,)

    def changes(self, event: object) -> Sequence[RowChange]:
        if isinstance(event, Alert.Raised):
            return [_raised(event)]
        if not isinstance(event, Alert.Event):
            return []
        values = _changed_columns(event)
        if values is None:
            return []
        increments = {"comment_count": 1} if isinstance(event, Alert.Commented) else {}
        values["updated_at"] = event.timestamp
        version = event.originator_version
        return [RowUpdate(ALERTS, event.originator_id, version, version, values, increments)]


def _raised(event: Alert.Raised) -> RowInsert:
    values = {
        "tenant_id": event.tenant_id,
        "source": event.source,
        "record_id": event.record_id,
        "model_line": event.model_line,
        "model_version": event.model_version,
        "score": event.score,
        "threshold": event.threshold,
        "severity": event.severity,
        "status": str(AlertStatus.OPEN),
        "entity_id": event.entity_id,
        "assignee": None,
        "escalation_level": 0,
        "comment_count": 0,
        "raised_at": event.timestamp,
        "updated_at": event.timestamp,
        "occurred_at": event.occurred_at,
    }
    return RowInsert(ALERTS, event.originator_id, event.originator_version, values)


def _changed_columns(event: Alert.Event) -> dict[str, Any] | None:
    """The queue columns an analyst action sets; None for an event the queue does not show."""
    match event:
        case Alert.Acknowledged():
            return {"status": str(AlertStatus.ACKNOWLEDGED)}
        case Alert.Assigned():
            return {"assignee": event.assignee}
        case Alert.Commented():
            return {}
        case Alert.Escalated():
            return {"escalation_level": event.level}
        case Alert.Dismissed():
            return {"status": str(AlertStatus.DISMISSED)}
        case Alert.Resolved():
            return {"status": str(AlertStatus.RESOLVED)}
        case Alert.Reopened():
            return {"status": str(AlertStatus.OPEN)}
    return None


def squash(changes: Iterable[RowChange]) -> list[RowChange]:
    """One change per row for a batch, in the order rows first appear: the writes can then be
    grouped into a few statements without reordering the events of any one row."""
    pending: dict[tuple[str, UUID], RowChange] = {}
    for change in changes:
        row = (change.table, change.key)
        earlier = pending.get(row)
        pending[row] = change if earlier is None else _follow(earlier, change)
    return list(pending.values())


def _follow(earlier: RowChange, later: RowChange) -> RowChange:
    if isinstance(later, RowInsert):
        # An insert is a row's first event, so one arriving later is a replay of an older state.
        return later if later.version > earlier.version else earlier
    if not later.applies_to(earlier.version):
        return earlier
    if isinstance(earlier, RowInsert):
        return replace(earlier, version=later.version, values=later.apply(earlier.values))
    increments = dict(earlier.increments)
    for column, step in later.increments.items():
        increments[column] = increments.get(column, 0) + step
    return replace(
        earlier,
        version=later.version,
        values={**earlier.values, **later.values},
        increments=increments,
    )
