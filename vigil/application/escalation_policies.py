"""Escalation policies as use cases: apply policy documents (define or change), disable and enable
a policy, list a tenant's policies, and what its policies owe an alert now.

Policies are saved through the alerts' application, like sources and model lines, so their
changes share the one log auditors replay, and an alert's escalations are recorded on the alert
itself: whether a step is due is read from the alert's events each time, never kept in memory.
The commands change who hears of what, so the boundaries require `escalations:manage` (admins)
to call them and `escalations:read` (analysts, admins, auditors) to list. Blocking: async
callers go through a thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.source_desk import DocumentRefused, PlacedDocument
from vigil.domain.alert import Alert
from vigil.domain.errors import AlertNotFound, DomainError, InvalidCommand
from vigil.domain.escalation_policy import EscalationPolicy, PolicyDefinition, policy_id
from vigil.domain.escalation_timing import DueEscalation, escalation_timing, replayed
from vigil.domain.text import bounded_text

ESCALATION_ACTOR = "system:escalation"
READ_AT_ONCE = 500

POLICY_TOPICS = [
    get_topic(event)
    for event in (
        EscalationPolicy.Defined,
        EscalationPolicy.Changed,
        EscalationPolicy.Disabled,
        EscalationPolicy.Enabled,
    )
]


class PolicyNotFound(DomainError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no escalation policy named {name!r}")
        self.name = name


class PolicyDocuments(Protocol):
    def read(self, text: str) -> Sequence[PlacedDocument]:
        """Every document of the text; DocumentRefused with the line for text that is none."""
        ...


@dataclass(frozen=True)
class AppliedPolicy:
    policy: EscalationPolicy
    changed: bool
    """False when the document said what the current definition says: nothing was recorded."""


@dataclass(frozen=True)
class EscalationAgenda:
    """What a tenant's policies owe one alert: the notifications due now, and when to look
    again."""

    due: tuple[DueEscalation, ...]
    next_due_at: datetime | None


# Commands -------------------------------------------------------------------------------------


def apply_policy_text(
    desk: AlertDesk,
    documents: PolicyDocuments,
    tenant_id: str,
    actor: str,
    text: str,
    note: str = "",
) -> list[AppliedPolicy]:
    """Defines or changes every policy the text describes, in one save; DocumentRefused,
    recording nothing, when any document is refused."""
    try:
        note = bounded_text("note", note)
    except InvalidCommand as error:
        raise DocumentRefused(None, error.field, error.reason) from None
    definitions: list[PolicyDefinition] = []
    for number, document in enumerate(documents.read(text), 1):
        try:
            definition = PolicyDefinition.from_document(document.body)
        except InvalidCommand as error:
            line = document.line_of(error.field)
            raise DocumentRefused(line, error.field, error.reason, number) from None
        if any(d.name == definition.name for d in definitions):
            reason = f"{definition.name!r} is defined by an earlier document of the text"
            raise DocumentRefused(document.line_of("name"), "name", reason, number)
        definitions.append(definition)
    return apply_policies(desk, tenant_id, actor, definitions, note)


def apply_policy(
    desk: AlertDesk, tenant_id: str, actor: str, document: Mapping[str, Any], note: str = ""
) -> AppliedPolicy:
    """Defines the document's policy, or records it as its next revision; InvalidCommand naming
    the field at fault."""
    (applied,) = apply_policies(
        desk, tenant_id, actor, [PolicyDefinition.from_document(document)], note
    )
    return applied


def apply_policies(
    desk: AlertDesk,
    tenant_id: str,
    actor: str,
    definitions: Sequence[PolicyDefinition],
    note: str = "",
) -> list[AppliedPolicy]:
    try:
        return _applied(desk, tenant_id, actor, definitions, note)
    except IntegrityError:
        # Someone saved one of these policies since it was read: apply the documents to theirs.
        return _applied(desk, tenant_id, actor, definitions, note)


def disable_policy(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, reason: str
) -> EscalationPolicy:
    """Stops the policy escalating anything; its definition and history stay."""
    policy = get_policy(desk, tenant_id, name)
    policy.disable(actor, desk.clock(), reason)
    desk.save(policy)
    return policy


def enable_policy(
    desk: AlertDesk, tenant_id: str, actor: str, name: str, reason: str
) -> EscalationPolicy:
    policy = get_policy(desk, tenant_id, name)
    policy.enable(actor, desk.clock(), reason)
    desk.save(policy)
    return policy


def _applied(
    desk: AlertDesk,
    tenant_id: str,
    actor: str,
    definitions: Sequence[PolicyDefinition],
    note: str,
) -> list[AppliedPolicy]:
    at, applied = desk.clock(), []
    for definition in definitions:
        policy = find_policy(desk, tenant_id, definition.name)
        if policy is None:
            new = EscalationPolicy.define(tenant_id, actor, at, definition, note)
            applied.append(AppliedPolicy(new, changed=True))
        else:
            applied.append(AppliedPolicy(policy, policy.change(actor, at, definition, note)))
    desk.save(*(one.policy for one in applied if one.changed))
    return applied


# Queries --------------------------------------------------------------------------------------


def find_policy(desk: AlertDesk, tenant_id: str, name: str) -> EscalationPolicy | None:
    return desk.owned(tenant_id, policy_id(tenant_id, name), EscalationPolicy)


def get_policy(desk: AlertDesk, tenant_id: str, name: str) -> EscalationPolicy:
    policy = find_policy(desk, tenant_id, name)
    if policy is None:
        raise PolicyNotFound(name)
    return policy


def list_policies(desk: AlertDesk, tenant_id: str) -> list[EscalationPolicy]:
    """The tenant's policies by name, disabled ones included, read from the event store."""
    return PolicyDirectory(desk).policies(tenant_id)


class PolicyDirectory:
    """Every tenant's policies, as of the last `refresh`. It follows the event log and reads
    only the policy events stored since its last look, so a timer looking every minute pays
    one small query."""

    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk
        self.position = 0
        """The notification id of the last policy event read."""
        self._policies: dict[UUID, EscalationPolicy] = {}

    def refresh(self) -> set[str]:
        """Reads the policy events stored since the last look; the tenants whose policies
        they changed."""
        changed: set[str] = set()
        while True:
            notifications = self.desk.recorder.select_notifications(
                self.position, READ_AT_ONCE, topics=POLICY_TOPICS, inclusive_of_start=False
            )
            for found_id in dict.fromkeys(n.originator_id for n in notifications):
                found: object = self.desk.repository.get(UUID(str(found_id)))
                if isinstance(found, EscalationPolicy):
                    self._policies[found.id] = found
                    changed.add(found.tenant_id)
            if notifications:
                self.position = notifications[-1].id
            if len(notifications) < READ_AT_ONCE:
                return changed

    def policies(self, tenant_id: str, enabled_only: bool = False) -> list[EscalationPolicy]:
        """Refreshed, then the tenant's policies by name."""
        self.refresh()
        return self.held(tenant_id, enabled_only)

    def every(self) -> list[EscalationPolicy]:
        """Every tenant's policies as of the last `refresh`."""
        return list(self._policies.values())

    def held(self, tenant_id: str, enabled_only: bool = False) -> list[EscalationPolicy]:
        """The tenant's policies by name as of the last `refresh`, without looking again."""
        found = [
            policy
            for policy in self._policies.values()
            if policy.tenant_id == tenant_id and (policy.enabled or not enabled_only)
        ]
        return sorted(found, key=lambda policy: policy.name)


# Timing ---------------------------------------------------------------------------------------


def due_escalations(
    history: Sequence[Alert.Event], policies: Sequence[EscalationPolicy], now: datetime
) -> EscalationAgenda:
    """What the policies owe the alert whose events, oldest first, are `history`: every step
    due now, policy by policy, and when the first of the others falls due."""
    timings = [escalation_timing(policy, history, now) for policy in policies]
    later = [t.next_due_at for t in timings if t.next_due_at is not None]
    return EscalationAgenda(tuple(d for t in timings for d in t.due), min(later, default=None))


def alert_history(desk: AlertDesk, tenant_id: str, alert_id: UUID) -> list[Alert.Event]:
    """The alert's events, oldest first; another tenant's alert answers as not found."""
    history = [e for e in desk.events.get(alert_id) if isinstance(e, Alert.Event)]
    if not history or history[0].tenant_id != tenant_id:
        raise AlertNotFound(alert_id)
    return history


def escalate_due(
    desk: AlertDesk,
    tenant_id: str,
    alert_id: UUID,
    policies: Sequence[EscalationPolicy],
    actor: str = ESCALATION_ACTOR,
) -> EscalationAgenda:
    """Records an Escalated event for every step due now, in one save, and returns what they
    tell (for delivery) with when to look again. The alert is rebuilt from the very events the
    timing read, so two timers at once cannot both record a step: the second save fails on the
    alert's version, and reading again finds the step done."""
    try:
        return _escalate_due(desk, tenant_id, alert_id, policies, actor)
    except IntegrityError:
        # Another timer, or an analyst, changed the alert since it was read: what they recorded
        # is done now, or stops the escalation.
        return _escalate_due(desk, tenant_id, alert_id, policies, actor)


def _escalate_due(
    desk: AlertDesk,
    tenant_id: str,
    alert_id: UUID,
    policies: Sequence[EscalationPolicy],
    actor: str,
) -> EscalationAgenda:
    history = alert_history(desk, tenant_id, alert_id)
    alert, now = replayed(history), desk.clock()
    agenda = due_escalations(history, policies, now)
    if not agenda.due:
        return agenda
    for due in agenda.due:
        alert.escalate(
            actor,
            now,
            due.reason,
            policy=due.policy,
            step_after_minutes=due.step_after_minutes,
            occurrence=due.occurrence,
            notify=due.notify,
        )
    recorded = [r.domain_event for r in desk.save(alert)]
    after = [*history, *(e for e in recorded if isinstance(e, Alert.Event))]
    return EscalationAgenda(agenda.due, due_escalations(after, policies, now).next_due_at)
