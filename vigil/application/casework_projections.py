"""The case list and the labels read models: what each Case and Label event changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.application.projection import RowChange, RowInsert, RowUpdate
from vigil.domain.case import Case, CaseStatus
from vigil.domain.label import Label

CASES = "cases"
LABELS = "labels"


class CaseListProjection:
    """One `cases` row per case: status, owner, SLA and outcome, as the case list shows them."""

    name = "case_list"
    tables = (CASES,)

    def changes(self, event: object) -> Sequence[RowChange]:
        if isinstance(event, Case.Opened):
            return [_opened(event)]
        if not isinstance(event, Case.Event):
            return []
        values, increments = _case_columns(event)
        if values is None:
            return []
        values["updated_at"] = event.timestamp
        version = event.originator_version
        return [RowUpdate(CASES, event.originator_id, version, version, values, increments)]


def _opened(event: Case.Opened) -> RowInsert:
    values: dict[str, Any] = {
        "tenant_id": event.tenant_id,
        "title": event.title,
        "priority": event.priority,
        "status": str(CaseStatus.OPEN),
        "assignee": None,
        "disposition": None,
        "summary": None,
        "alert_count": len(event.alert_ids),
        "comment_count": 0,
        "due_at": event.due_at,
        "sla_breached": False,
        "opened_by": event.actor,
        "opened_at": event.timestamp,
        "updated_at": event.timestamp,
        "closed_at": None,
        "tags": [],
    }
    return RowInsert(CASES, event.originator_id, event.originator_version, values)


def _case_columns(event: Case.Event) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """The columns a case event sets and the counters it moves; None for one the list ignores."""
    match event:
        case Case.AlertAttached():
            return {}, {"alert_count": 1}
        case Case.AlertDetached():
            return {}, {"alert_count": -1}
        case Case.Assigned():
            return {"assignee": event.assignee}, {}
        case Case.Commented():
            return {}, {"comment_count": 1}
        case Case.StatusChanged():
            return {"status": event.to_status}, {}
        case Case.Reprioritised():
            return {"priority": event.priority, "due_at": event.due_at}, {}
        case Case.Tagged() | Case.Untagged():
            return {"tags": event.tags}, {}
        case Case.SlaBreached():
            return {"sla_breached": True}, {}
        case Case.Closed():
            closed = {"status": str(CaseStatus.CLOSED), "disposition": event.disposition}
            return {**closed, "summary": event.summary, "closed_at": event.timestamp}, {}
        case Case.Reopened():
            reopened = {"status": str(CaseStatus.INVESTIGATING), "disposition": None}
            return {**reopened, "summary": None, "closed_at": None}, {}
    return None, {}


class LabelProjection:
    """One `labels` row per labelled subject, holding the verdict that stands now."""

    name = "labels"
    tables = (LABELS,)

    def changes(self, event: object) -> Sequence[RowChange]:
        version = getattr(event, "originator_version", 0)
        match event:
            case Label.SubjectNamed():
                values = {
                    "tenant_id": event.tenant_id,
                    "source": event.source,
                    "kind": event.kind,
                    "subject_id": event.subject_id,
                    **_no_verdict(),
                }
                return [RowInsert(LABELS, event.originator_id, version, values)]
            case Label.Applied():
                verdict = {
                    "verdict": event.verdict,
                    "label_source": event.label_source,
                    "labelled_by": event.actor,
                    "labelled_at": event.timestamp,
                    "provenance": event.provenance,
                }
                return [RowUpdate(LABELS, event.originator_id, version, version, verdict)]
            case Label.Revoked():
                return [RowUpdate(LABELS, event.originator_id, version, version, _no_verdict())]
        return []


def _no_verdict() -> dict[str, Any]:
    keys = ("verdict", "label_source", "labelled_by", "labelled_at", "provenance")
    return dict.fromkeys(keys)
