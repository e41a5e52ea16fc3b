"""Cases and labels on both event stores: opening links alerts, closing labels their records."""

from __future__ import annotations

from uuid import UUID

import pytest

from tests.builders import detections
from vigil.application.casework import Casework
from vigil.domain.case import CaseStatus, Disposition, Priority
from vigil.domain.errors import AlertInAnotherCase, AlertNotFound, CaseIsClosed, CaseNotFound
from vigil.domain.label import LabelSource, SubjectKind, Verdict

TENANT = "acme"


@pytest.fixture
def three_alerts(desk: Casework) -> list[UUID]:
    found = detections(3, tenant_id=TENANT)
    desk.raise_alerts(found)
    return [d.alert_id for d in found]


def events_since(desk: Casework, position: int) -> list[str]:
    return [
        n.topic.rsplit(".", 1)[-1] for n in desk.recorder.select_notifications(position + 1, 100)
    ]


def test_opening_a_case_links_its_alerts_in_the_same_save(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    before = desk.recorder.max_notification_id() or 0
    case = desk.open_case(TENANT, "ann", "Card testing", Priority.HIGH, three_alerts[:2])
    assert events_since(desk, before) == ["Opened", "LinkedToCase", "LinkedToCase"]
    assert {desk.get_alert(TENANT, a).case_id for a in three_alerts[:2]} == {case.id}
    with pytest.raises(AlertInAnotherCase):
        desk.open_case(TENANT, "bob", "Same alert", Priority.LOW, three_alerts[1:])
    assert desk.get_alert(TENANT, three_alerts[2]).case_id is None


def test_a_case_opens_only_from_the_tenants_own_alerts(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    with pytest.raises(AlertNotFound):
        desk.open_case("globex", "eve", "Not ours", Priority.LOW, three_alerts[:1])
    case = desk.open_case(TENANT, "ann", "Ours", Priority.LOW, three_alerts[:1])
    with pytest.raises(CaseNotFound):
        desk.get_case("globex", case.id)


def test_closing_as_confirmed_fraud_labels_every_record_in_the_same_save(
    desk: Casework,
    three_alerts: list[UUID],
) -> None:
    case = desk.open_case(TENANT, "ann", "Stolen card", Priority.CRITICAL, three_alerts[:2])
    desk.attach_alert(TENANT, case.id, "ann", three_alerts[2])
    before = desk.recorder.max_notification_id() or 0
    desk.close_case(TENANT, case.id, "ann", Disposition.CONFIRMED_FRAUD, "Cardholder confirmed")

    assert events_since(desk, before) == ["Closed"] + ["SubjectNamed", "Applied"] * 3
    for n in range(3):
        label = desk.get_label(TENANT, ("cards", SubjectKind.RECORD, f"tx-{n}"))
        assert label is not None
        assert (label.verdict, label.label_source, label.labelled_by) == (
            Verdict.FRAUD,
            LabelSource.CASE_DISPOSITION,
            "ann",
        )
    assert desk.get_case(TENANT, case.id).status is CaseStatus.CLOSED


def test_an_inconclusive_case_labels_nothing_and_a_reopened_one_relabels(
    desk: Casework,
    three_alerts: list[UUID],
) -> None:
    case = desk.open_case(TENANT, "ann", "Odd pattern", Priority.MEDIUM, three_alerts[:1])
    desk.close_case(
        TENANT, case.id, "ann", Disposition.INCONCLUSIVE, "Could not reach the customer"
    )
    assert desk.get_label(TENANT, ("cards", SubjectKind.RECORD, "tx-0")) is None
    with pytest.raises(CaseIsClosed):
        desk.attach_alert(TENANT, case.id, "ann", three_alerts[1])

    desk.reopen_case(TENANT, case.id, "lead", "customer called back")
    desk.close_case(TENANT, case.id, "lead", Disposition.FALSE_POSITIVE, "Customer was travelling")
    label = desk.get_label(TENANT, ("cards", SubjectKind.RECORD, "tx-0"))
    assert label is not None
    assert label.verdict is Verdict.LEGIT


def test_a_case_is_worked_assigned_commented_and_moved_through_its_workflow(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    case = desk.open_case(TENANT, "ann", "Account takeover", Priority.HIGH, three_alerts[:1])
    desk.assign_case(TENANT, case.id, "lead", "ann")
    desk.change_case_status(TENANT, case.id, "ann", CaseStatus.INVESTIGATING)
    desk.comment_on_case(TENANT, case.id, "ann", "Asked the bank for the login history")
    desk.change_case_status(TENANT, case.id, "ann", CaseStatus.PENDING_INFO, "waiting on bank")
    stored = desk.get_case(TENANT, case.id)
    assert (stored.assignee, stored.status, stored.comment_count) == (
        "ann",
        CaseStatus.PENDING_INFO,
        1,
    )


def test_a_detached_alert_is_free_for_another_case(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    case = desk.open_case(TENANT, "ann", "Two alerts", Priority.LOW, three_alerts[:2])
    desk.detach_alert(TENANT, case.id, "ann", three_alerts[0])
    assert desk.get_alert(TENANT, three_alerts[0]).case_id is None
    other = desk.open_case(TENANT, "bob", "Its own case", Priority.LOW, three_alerts[:1])
    assert desk.get_alert(TENANT, three_alerts[0]).case_id == other.id


def test_a_bulk_acknowledge_saves_the_alerts_it_can_and_names_the_rest(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    desk.dismiss_many(TENANT, three_alerts[:1], "ann", "duplicate of an older alert")
    before = desk.recorder.max_notification_id() or 0
    outcome = desk.acknowledge_many(TENANT, [*three_alerts, three_alerts[1]], "bob", "on it")
    assert outcome.applied == three_alerts[1:]
    assert list(outcome.refused) == three_alerts[:1]
    assert "dismissed" in outcome.refused[three_alerts[0]]
    assert events_since(desk, before) == ["Acknowledged", "Acknowledged"]


def test_a_bulk_assign_refuses_another_tenants_alerts_as_not_found(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    outcome = desk.assign_many("globex", three_alerts, "eve", "mallory")
    assert outcome.applied == []
    assert all("does not exist" in reason for reason in outcome.refused.values())
    assert all(desk.get_alert(TENANT, a).assignee is None for a in three_alerts)
