"""The queue board projection: one `queues` row per queue, its rules as they stand."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.application.projection import RowChange, RowInsert, RowUpdate
from vigil.domain.queue import Queue

QUEUES = "queues"


class QueueBoardProjection:
    name = "queue_board"
    tables = (QUEUES,)

    def changes(self, event: object) -> Sequence[RowChange]:
        version = getattr(event, "originator_version", 0)
        match event:
            case Queue.Defined():
                values = {
                    "tenant_id": event.tenant_id,
                    "name": event.name,
                    "kind": event.kind,
                    "criteria": event.criteria,
                    "sla_minutes": event.sla_minutes,
                    "assignment": event.assignment,
                    "members": event.members,
                    "retired": False,
                    "defined_at": event.timestamp,
                    "updated_at": event.timestamp,
                }
                return [RowInsert(QUEUES, event.originator_id, version, values)]
            case Queue.Redefined():
                rules = {
                    "criteria": event.criteria,
                    "sla_minutes": event.sla_minutes,
                    "assignment": event.assignment,
                    "members": event.members,
                    "updated_at": event.timestamp,
                }
                return [RowUpdate(QUEUES, event.originator_id, version, version, rules)]
            case Queue.Retired():
                retired = {"retired": True, "updated_at": event.timestamp}
                return [RowUpdate(QUEUES, event.originator_id, version, version, retired)]
        return []
