"""The case list and labels projections: given Case and Label events, the rows they change."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from tests.builders import T0
from vigil.application.casework_projections import CaseListProjection, LabelProjection
from vigil.application.projection import RowInsert, RowUpdate
from vigil.domain.case import Case, CaseSla, CaseStatus, Disposition, Priority
from vigil.domain.label import Label, LabelSource, SubjectKind, Verdict

ALERTS = [UUID(int=1), UUID(int=2)]


def test_an_opened_case_inserts_an_open_row_due_by_its_sla() -> None:
    case = Case.open(uuid4(), "acme", "ann", T0, "Stolen card", Priority.HIGH, ALERTS, CaseSla())
    (opened,) = case.collect_events()
    (change,) = CaseListProjection().changes(opened)
    assert isinstance(change, RowInsert)
    assert change.values["status"] == "open"
    assert change.values["alert_count"] == 2
    assert change.values["due_at"] == T0 + timedelta(hours=24)
    assert change.values["opened_by"] == "ann"


def test_working_and_closing_a_case_moves_its_counters_and_status() -> None:
    case = Case.open(uuid4(), "acme", "ann", T0, "Stolen card", Priority.HIGH, ALERTS, CaseSla())
    case.collect_events()
    case.attach("ann", T0, UUID(int=3))
    case.comment("ann", T0, "called")
    case.change_status("ann", T0, CaseStatus.INVESTIGATING)
    case.close("ann", T0 + timedelta(hours=1), Disposition.FALSE_POSITIVE, "travelling")
    projection = CaseListProjection()
    changes = [c for e in case.collect_events() for c in projection.changes(e)]
    updates = [c for c in changes if isinstance(c, RowUpdate)]
    assert updates == changes
    assert [dict(c.increments) for c in updates[:2]] == [{"alert_count": 1}, {"comment_count": 1}]
    closed = changes[-1].values
    assert (closed["status"], closed["disposition"], closed["summary"]) == (
        "closed",
        "false_positive",
        "travelling",
    )
    assert closed["closed_at"] == T0 + timedelta(hours=1)


def test_a_label_row_holds_the_standing_verdict_and_loses_it_on_revocation() -> None:
    label = Label.for_subject("acme", "cards", SubjectKind.RECORD, "tx-9", "ann", T0)
    label.apply_verdict("ann", T0, Verdict.FRAUD, LabelSource.ANALYST, {"note": "confirmed"})
    label.revoke("lead", T0, "wrong transaction")
    named, applied, revoked = (
        change for event in label.collect_events() for change in LabelProjection().changes(event)
    )
    assert isinstance(named, RowInsert)
    assert (named.values["subject_id"], named.values["verdict"]) == ("tx-9", None)
    assert (applied.values["verdict"], applied.values["provenance"]) == (
        "fraud",
        {"note": "confirmed"},
    )
    assert revoked.values["verdict"] is None


def test_events_of_other_aggregates_change_no_case_or_label_row() -> None:
    label = Label.for_subject("acme", "cards", SubjectKind.ENTITY, "customer-1", "ann", T0)
    (named,) = label.collect_events()
    assert CaseListProjection().changes(named) == []
    assert LabelProjection().changes(object()) == []
