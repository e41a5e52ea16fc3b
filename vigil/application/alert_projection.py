"""The alert queue projection: what each Alert event changes in the queue's row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.application.projection import RowChange, RowInsert, RowUpdate
from vigil.domain.alert import Alert, AlertStatus

ALERTS = "alerts"


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
        "case_id": None,
        "tags": [],
        "rule_hits": list(event.rule_hits),
        "rule_set_version": event.rule_set_version,
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
        case Alert.LinkedToCase():
            return {"case_id": event.case_id}
        case Alert.UnlinkedFromCase():
            return {"case_id": None}
        case Alert.Tagged() | Alert.Untagged():
            return {"tags": event.tags}
    return None
