"""The entity summary projection: given events, which summaries must be recomputed from what."""

from __future__ import annotations

from uuid import UUID, uuid4

from tests.builders import T0, detection
from vigil.application.alert_projection import AlertQueueProjection
from vigil.application.entity_summary_projection import EntitySummaryProjection
from vigil.application.projection import Recompute, RowInsert, squash
from vigil.domain.alert import Alert
from vigil.domain.case import Case, CaseSla, Disposition, Priority
from vigil.domain.label import Label, LabelSource, SubjectKind, Verdict

SUMMARIES = "entity_summaries"


def test_a_raised_or_relinked_alert_recomputes_the_summary_of_its_entity() -> None:
    alert = Alert.raise_from(detection(), "system:detector", T0)
    case_id = uuid4()
    alert.link_to_case("ann", T0, case_id)
    alert.unlink_from_case("ann", T0, case_id)
    alert.acknowledge("ann", T0)

    changes = [c for e in alert.collect_events() for c in EntitySummaryProjection().changes(e)]

    assert changes == [Recompute(SUMMARIES, "alerts", alert.id)] * 3


def test_closing_or_reopening_a_case_recomputes_the_summaries_of_its_alerts_entities() -> None:
    case = Case.open(uuid4(), "acme", "ann", T0, "Stolen", Priority.HIGH, [UUID(int=1)], CaseSla())
    case.close("ann", T0, Disposition.INCONCLUSIVE, "no answer")
    case.reopen("lead", T0, "cardholder called back")

    changes = [c for e in case.collect_events() for c in EntitySummaryProjection().changes(e)]

    assert changes == [Recompute(SUMMARIES, "cases", case.id)] * 2


def test_giving_or_revoking_a_verdict_recomputes_the_summaries_behind_its_subject() -> None:
    label = Label.for_subject("acme", "cards", SubjectKind.RECORD, "tx-1", "ann", T0)
    label.apply_verdict("ann", T0, Verdict.FRAUD, LabelSource.ANALYST)
    label.revoke("lead", T0, "wrong record")

    changes = [c for e in label.collect_events() for c in EntitySummaryProjection().changes(e)]

    assert changes == [Recompute(SUMMARIES, "labels", label.id)] * 2


def test_a_batch_recomputes_each_summary_once_after_every_row_change() -> None:
    alert = Alert.raise_from(detection(), "system:detector", T0)
    alert.link_to_case("ann", T0, uuid4())
    projections = (EntitySummaryProjection(), AlertQueueProjection())

    row, recompute = squash(
        c for e in alert.collect_events() for p in projections for c in p.changes(e)
    )

    assert isinstance(row, RowInsert)
    assert (row.key, row.version, row.values["case_id"]) == (alert.id, 2, alert.case_id)
    assert recompute == Recompute(SUMMARIES, "alerts", alert.id)
