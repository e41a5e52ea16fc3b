"""AlertDesk: the use cases that raise alerts and move them through the analyst workflow."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from vigil.application.ports import Clock, system_clock
from vigil.domain.alert import Alert, Detection
from vigil.domain.errors import AlertNotFound, DomainError
from vigil.domain.personal_data import masked_record

DETECTOR_ACTOR = "system:detector"

Owned = TypeVar("Owned", bound=Aggregate)
"""An aggregate that belongs to one tenant (it has a `tenant_id`)."""


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

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock = system_clock,
        personal_fields: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self._personal_fields = {s: frozenset(f) for s, f in (personal_fields or {}).items()}

    def personal_fields_of(self, source: str) -> frozenset[str]:
        """The source's record fields that are personal: shown masked, revealed on record."""
        return self._personal_fields.get(source, frozenset())

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
        alert = self.owned(tenant_id, alert_id, Alert)
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert

    def owned(self, tenant_id: str, aggregate_id: UUID, kind: type[Owned]) -> Owned | None:
        """The tenant's aggregate of this kind with this id, as it stands; None if there is
        none, and for another tenant's, whose ids must answer as unknown."""
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(found, kind) or getattr(found, "tenant_id", None) != tenant_id:
            return None
        return found

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

    def tag(self, tenant_id: str, alert_id: UUID, actor: str, tag: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.tag(actor, at, tag))

    def untag(self, tenant_id: str, alert_id: UUID, actor: str, tag: str) -> Alert:
        return self._act(tenant_id, alert_id, lambda a, at: a.untag(actor, at, tag))

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

    def reveal_personal_data(
        self, tenant_id: str, alert_id: UUID, actor: str, fields: Sequence[str], reason: str
    ) -> dict[str, Any]:
        """The named personal fields of the alert's record in clear; the reveal is recorded."""
        alert = self.get_alert(tenant_id, alert_id)
        personal = self.personal_fields_of(alert.source)
        values = alert.reveal_personal_data(actor, self.clock(), fields, personal, reason)
        self.save(alert)
        return values

    def timeline(self, tenant_id: str, alert_id: UUID) -> list[TimelineEntry]:
        """Every event of the alert from the event store, oldest first, with the personal fields
        of its record masked."""
        personal = self.personal_fields_of(self.get_alert(tenant_id, alert_id).source)
        return [event_entry(e, personal) for e in self.events.get(alert_id)]

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


def event_entry(event: Any, personal: Collection[str] = frozenset()) -> TimelineEntry:
    details = {k: v for k, v in vars(event).items() if k not in _TIMELINE_HIDDEN}
    if isinstance(event, Alert.Raised) and personal:
        details["record"] = masked_record(event.record, personal)
    return TimelineEntry(
        version=event.originator_version,
        event=type(event).__name__,
        actor=event.actor,
        at=event.timestamp,
        details=details,
    )
