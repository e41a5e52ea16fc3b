"""Casework: cases and labels, on the same event log as the alerts they are about.

Opening a case links its alerts and closing it labels their records, each in one save, so these
use cases extend the alerts' application rather than living in one of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from vigil.application.alert_desk import AlertDesk, TimelineEntry, event_entry
from vigil.domain.case import Case, CaseSla, CaseStatus, Disposition, Priority
from vigil.domain.errors import CaseNotFound, LabelNotApplied
from vigil.domain.label import (
    VERDICT_OF_DISPOSITION,
    Label,
    LabelSource,
    SubjectKind,
    Verdict,
    label_id,
)

SLA_ACTOR = "system:sla"

LabelSubject = tuple[str, SubjectKind, str]
"""What a label is about: (source, record or entity, its id)."""


class Casework(AlertDesk):
    """The alerts' application with its cases and labels: one log, atomic across them."""

    def get_case(self, tenant_id: str, case_id: UUID) -> Case:
        """The case as it stands; another tenant's case answers as not found."""
        case = self.owned(tenant_id, case_id, Case)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def open_case(
        self,
        tenant_id: str,
        actor: str,
        title: str,
        priority: Priority,
        alert_ids: list[UUID],
        sla: CaseSla | None = None,
    ) -> Case:
        """Opens a case and links its alerts to it, in one save."""
        at = self.clock()
        alerts = [self.get_alert(tenant_id, alert_id) for alert_id in alert_ids]
        case = Case.open(
            uuid4(), tenant_id, actor, at, title, priority, alert_ids, sla or CaseSla()
        )
        for alert in alerts:
            alert.link_to_case(actor, at, case.id)
        self.save(case, *alerts)
        return case

    def attach_alert(self, tenant_id: str, case_id: UUID, actor: str, alert_id: UUID) -> Case:
        case, alert, at = (
            self.get_case(tenant_id, case_id),
            self.get_alert(tenant_id, alert_id),
            self.clock(),
        )
        case.attach(actor, at, alert_id)
        alert.link_to_case(actor, at, case_id)
        self.save(case, alert)
        return case

    def detach_alert(self, tenant_id: str, case_id: UUID, actor: str, alert_id: UUID) -> Case:
        case, alert, at = (
            self.get_case(tenant_id, case_id),
            self.get_alert(tenant_id, alert_id),
            self.clock(),
        )
        case.detach(actor, at, alert_id)
        alert.unlink_from_case(actor, at, case_id)
        self.save(case, alert)
        return case

    def close_case(
        self, tenant_id: str, case_id: UUID, actor: str, disposition: Disposition, summary: str
    ) -> Case:
        """Closes the case and, in the same save, labels its alerts' records by the disposition."""
        case, at = self.get_case(tenant_id, case_id), self.clock()
        case.close(actor, at, disposition, summary)
        verdict = VERDICT_OF_DISPOSITION[disposition]
        labels = [] if verdict is None else self._label_records(case, verdict, actor, at)
        self.save(case, *labels)
        return case

    def _label_records(self, case: Case, verdict: Verdict, actor: str, at: datetime) -> list[Label]:
        """The verdict on every record of the case's alerts; one label per record."""
        labels: dict[UUID, Label] = {}
        for alert_id in case.alert_ids:
            alert = self.get_alert(case.tenant_id, alert_id)
            subject = (alert.source, SubjectKind.RECORD, alert.record_id)
            known = labels.get(label_id(case.tenant_id, *subject))
            label = known or self._label(case.tenant_id, subject, actor, at)
            if (label.verdict, label.label_source) != (verdict, LabelSource.CASE_DISPOSITION):
                provenance = {"case_id": str(case.id), "alert_id": str(alert.id)}
                label.apply_verdict(actor, at, verdict, LabelSource.CASE_DISPOSITION, provenance)
            labels[label.id] = label
        return list(labels.values())

    def assign_case(self, tenant_id: str, case_id: UUID, actor: str, assignee: str) -> Case:
        return self._act_on_case(tenant_id, case_id, lambda c, at: c.assign(actor, at, assignee))

    def comment_on_case(self, tenant_id: str, case_id: UUID, actor: str, text: str) -> Case:
        return self._act_on_case(tenant_id, case_id, lambda c, at: c.comment(actor, at, text))

    def tag_case(self, tenant_id: str, case_id: UUID, actor: str, tag: str) -> Case:
        return self._act_on_case(tenant_id, case_id, lambda c, at: c.tag(actor, at, tag))

    def untag_case(self, tenant_id: str, case_id: UUID, actor: str, tag: str) -> Case:
        return self._act_on_case(tenant_id, case_id, lambda c, at: c.untag(actor, at, tag))

    def change_case_status(
        self, tenant_id: str, case_id: UUID, actor: str, to: CaseStatus, reason: str = ""
    ) -> Case:
        return self._act_on_case(
            tenant_id, case_id, lambda c, at: c.change_status(actor, at, to, reason)
        )

    def breach_case_sla(self, tenant_id: str, case_id: UUID, actor: str = SLA_ACTOR) -> Case:
        """Records that the case passed its due date while open; the SLA timer calls this."""
        return self._act_on_case(tenant_id, case_id, lambda c, at: c.breach_sla(actor, at))

    def reopen_case(self, tenant_id: str, case_id: UUID, actor: str, reason: str) -> Case:
        return self._act_on_case(tenant_id, case_id, lambda c, at: c.reopen(actor, at, reason))

    def _act_on_case(
        self, tenant_id: str, case_id: UUID, command: Callable[[Case, datetime], None]
    ) -> Case:
        case = self.get_case(tenant_id, case_id)
        command(case, self.clock())
        self.save(case)
        return case

    def label(
        self,
        tenant_id: str,
        actor: str,
        subject: LabelSubject,
        verdict: Verdict,
        source: LabelSource,
        provenance: dict[str, Any] | None = None,
    ) -> Label:
        """A verdict on a record or an entity from an analyst, a chargeback or an import."""
        at = self.clock()
        label = self._label(tenant_id, subject, actor, at)
        label.apply_verdict(actor, at, verdict, source, provenance)
        self.save(label)
        return label

    def revoke_label(self, tenant_id: str, actor: str, subject: LabelSubject, reason: str) -> Label:
        label = self.get_label(tenant_id, subject)
        if label is None:
            raise LabelNotApplied(f"{subject[1]} {subject[2]} of {subject[0]} was never labelled")
        label.revoke(actor, self.clock(), reason)
        self.save(label)
        return label

    def case_timeline(self, tenant_id: str, case_id: UUID) -> list[TimelineEntry]:
        """Every event of the case from the event store, oldest first."""
        self.get_case(tenant_id, case_id)
        return [event_entry(e) for e in self.events.get(case_id)]

    def get_label(self, tenant_id: str, subject: LabelSubject) -> Label | None:
        """The label history of a record or an entity; None if it was never labelled."""
        try:
            found: object = self.repository.get(label_id(tenant_id, *subject))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Label) else None

    def _label(self, tenant_id: str, subject: LabelSubject, actor: str, at: datetime) -> Label:
        existing = self.get_label(tenant_id, subject)
        return existing or Label.for_subject(tenant_id, *subject, actor, at)
