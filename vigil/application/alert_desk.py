"""AlertDesk: the use cases that raise alerts and move them through the analyst workflow."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from vigil.application.ports import Clock, system_clock
from vigil.domain.alert import Alert, Detection
from vigil.domain.case import Case, CaseSla, CaseStatus, Disposition, Priority
from vigil.domain.errors import AlertNotFound, CaseNotFound, DomainError, LabelNotApplied
from vigil.domain.label import (
    VERDICT_OF_DISPOSITION,
    Label,
    LabelSource,
    SubjectKind,
    Verdict,
    label_id,
)

DETECTOR_ACTOR = "system:detector"
SLA_ACTOR = "system:sla"

LabelSubject = tuple[str, SubjectKind, str]
"""What a label is about: (source, record or entity, its id)."""


@dataclass(frozen=True)
class RaiseOutcome:
    raised: int
    already_raised: int


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk command did: the alerts it changed, and why it left each of the others."""

    applied: list[UUID]
    refused: dict[UUID, str]


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an alert, as the alert's timeline shows it."""

    version: int
    event: str
    actor: str
    at: datetime
    details: dict[str, Any]


_TIMELINE_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}


class AlertDesk(Application[UUID]):
    """Raises alerts in batches and records every analyst action on them."""

    name = "alerts"

    def __init__(self, env: Mapping[str, str] | None = None, clock: Clock = system_clock) -> None:
        super().__init__(env)
        self.clock = clock

    def raise_alerts(
        self, detections: Sequence[Detection], actor: str = DETECTOR_ACTOR
    ) -> RaiseOutcome:
        """Saves one alert per detection in one transaction; a redelivered record raises nothing."""
        at = self.clock()
        unique = {d.alert_id: d for d in detections}
        if not unique:
            return RaiseOutcome(0, len(detections))
        try:
            self.save(*(Alert.raise_from(d, actor, at) for d in unique.values()))
        except IntegrityError:
            # Some were raised before (a redelivery). The failed save consumed the new alerts'
            # pending events, so the ones still missing are raised afresh.
            missing = [d for alert_id, d in unique.items() if alert_id not in self.repository]
            if missing:
                self.save(*(Alert.raise_from(d, actor, at) for d in missing))
            return RaiseOutcome(len(missing), len(detections) - len(missing))
        return RaiseOutcome(len(unique), len(detections) - len(unique))

    def get_alert(self, tenant_id: str, alert_id: UUID) -> Alert:
        """The alert as it stands; another tenant's alert answers as not found."""
        try:
            alert: object = self.repository.get(alert_id)
        except AggregateNotFoundError:
            raise AlertNotFound(alert_id) from None
        if not isinstance(alert, Alert) or alert.tenant_id != tenant_id:
            raise AlertNotFound(alert_id)
        return alert

    def acknowledge(self, tenant_id: str, alert_id: UUID, actor: str, note: str = "") -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.acknowledge(actor, at, note))

    def assign(self, tenant_id: str, alert_id: UUID, actor: str, assignee: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.assign(actor, at, assignee))

    def comment(self, tenant_id: str, alert_id: UUID, actor: str, text: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.comment(actor, at, text))

    def escalate(self, tenant_id: str, alert_id: UUID, actor: str, reason: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.escalate(actor, at, reason))

    def dismiss(self, tenant_id: str, alert_id: UUID, actor: str, reason: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.dismiss(actor, at, reason))

    def resolve(self, tenant_id: str, alert_id: UUID, actor: str, resolution: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.resolve(actor, at, resolution))

    def reopen(self, tenant_id: str, alert_id: UUID, actor: str, reason: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.reopen(actor, at, reason))

    def acknowledge_many(
        self, tenant_id: str, alert_ids: Sequence[UUID], actor: str, note: str = ""
    ) -> BulkOutcome:
        return self._act_on_many(tenant_id, alert_ids, lambda a, at: a.acknowledge(actor, at, note))

    def assign_many(
        self, tenant_id: str, alert_ids: Sequence[UUID], actor: str, assignee: str
    ) -> BulkOutcome:
        return self._act_on_many(tenant_id, alert_ids, lambda a, at: a.assign(actor, at, assignee))

    def dismiss_many(
        self, tenant_id: str, alert_ids: Sequence[UUID], actor: str, reason: str
    ) -> BulkOutcome:
        return self._act_on_many(tenant_id, alert_ids, lambda a, at: a.dismiss(actor, at, reason))

    def timeline(self, tenant_id: str, alert_id: UUID) -> list[TimelineEntry]:
        """Every event of the alert from the event store, oldest first."""
        self.get_alert(tenant_id, alert_id)
        return [_entry(e) for e in self.events.get(alert_id)]

    # Cases and labels share this application's log: opening a case links its alerts, and
    # closing it labels their records, each in a single save.

    def get_case(self, tenant_id: str, case_id: UUID) -> Case:
        """The case as it stands; another tenant's case answers as not found."""
        try:
            case: object = self.repository.get(case_id)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if not isinstance(case, Case) or case.tenant_id != tenant_id:
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
        return [_entry(e) for e in self.events.get(case_id)]

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

    def _act_on_many(
        self,
        tenant_id: str,
        alert_ids: Sequence[UUID],
        command: Callable[[Alert, datetime], None],
    ) -> BulkOutcome:
        """One command on many alerts, saved together; an alert that refuses it is left as it
        was and named with the reason, so one closed alert never blocks the rest."""
        at, changed, refused = self.clock(), [], {}
        for alert_id in dict.fromkeys(alert_ids):
            try:
                alert = self.get_alert(tenant_id, alert_id)
                command(alert, at)
            except DomainError as error:
                refused[alert_id] = str(error)
                continue
            changed.append(alert)
        self.save(*changed)
        return BulkOutcome([a.id for a in changed], refused)

    def _act(
        self, tenant_id: str, alert_id: UUID, command: Callable[[Alert, datetime], None]
    ) -> Alert:
        alert = self.get_alert(tenant_id, alert_id)
        command(alert, self.clock())
        self.save(alert)
        return alert


def _entry(event: Any) -> TimelineEntry:
    details = {k: v for k, v in vars(event).items() if k not in _TIMELINE_HIDDEN}
    return TimelineEntry(
        version=event.originator_version,
        event=type(event).__name__,
        actor=event.actor,
        at=event.timestamp,
        details=details,
    )
