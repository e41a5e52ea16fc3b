"""What the console's alert pages show, gathered from the read model and the event store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio.to_thread

from vigil.application.alert_desk import AlertDesk, TimelineEntry
from vigil.application.alert_queue import AlertPage, AlertQueue, AlertQueueFilter, AlertRow
from vigil.application.delivery_records import timeline_with_deliveries
from vigil.application.entity_context import WINDOWS
from vigil.domain.alert import Alert, AlertStatus, Severity
from vigil.domain.errors import AlertNotFound

PAGE_SIZE = 50
RAISED = Alert.Raised.__name__


@dataclass(frozen=True)
class QueueView:
    filters: AlertQueueFilter
    page: AlertPage
    status_counts: dict[str, int]
    after: str | None


@dataclass(frozen=True)
class AlertDetail:
    row: AlertRow
    record: dict[str, Any]
    entity_context: dict[str, float]
    timeline: list[TimelineEntry]
    personal: tuple[str, ...] = ()
    """The record's personal fields, shown masked."""
    revealed: dict[str, Any] = field(default_factory=dict)
    """Personal fields the viewer just revealed, in clear, for this one page."""

    windows = tuple(WINDOWS)

    @property
    def context_rows(self) -> list[tuple[str, list[float]]]:
        """The entity context as a table: one row per measure, one column per window."""
        rows: dict[str, list[float]] = {}
        for key, value in self.entity_context.items():
            measure, _, window = key.rpartition("_")
            if window in WINDOWS:
                rows.setdefault(measure, []).append(value)
        return list(rows.items())

    @property
    def over_threshold(self) -> float:
        return self.row.score - self.row.threshold

    def details_of(self, entry: TimelineEntry) -> dict[str, Any]:
        if entry.event != RAISED:
            return entry.details
        # The Raised event repeats every column of the page; its note-worthy part is the record.
        return {}


def choice(
    field: str, value: str | None, allowed: type[AlertStatus] | type[Severity]
) -> str | None:
    """A filter from the query string; empty means any, anything unknown is refused."""
    if not value:
        return None
    if value not in {str(member) for member in allowed}:
        raise ValueError(f"{field}: unknown value {value!r}")
    return value


async def queue_view(queue: AlertQueue, filters: AlertQueueFilter, after: str | None) -> QueueView:
    page = await queue.page(filters, PAGE_SIZE, after)
    return QueueView(filters, page, await status_counts(queue, filters), after)


async def status_counts(queue: AlertQueue, filters: AlertQueueFilter) -> dict[str, int]:
    """How many alerts each status tab holds, under the other filters in force: one query, which
    reads the maintained counts when no other filter is in force."""
    where = AlertQueueFilter(filters.tenant_id, severity=filters.severity, source=filters.source)
    by_status = await queue.status_counts(where)
    counts = {str(status): by_status.get(str(status), 0) for status in AlertStatus}
    return {"all": sum(counts.values()), **counts}


async def alert_detail(
    queue: AlertQueue, desk: AlertDesk, tenant_id: str, alert_id: UUID
) -> AlertDetail | None:
    """The alert's row with its record and timeline; None if the tenant has no such alert."""
    row = await queue.get(tenant_id, alert_id)
    if row is None:
        return None
    try:
        timeline = await anyio.to_thread.run_sync(
            timeline_with_deliveries, desk, tenant_id, alert_id
        )
    except AlertNotFound:
        return None
    raised = next((e for e in timeline if e.event == RAISED), None)
    details = raised.details if raised else {}
    record = dict(details.get("record", {}))
    personal = desk.personal_fields_of(row.source)
    return AlertDetail(
        row,
        record,
        dict(details.get("entity_context", {})),
        timeline,
        tuple(name for name in record if name in personal),
    )
