"""When an alert's escalation steps fall due: a pure function of a policy, the alert's events and
`now`, so a timer holds nothing a restart could lose.

A step is done once the alert has an Escalated event naming the policy and the step's delay; it
is then never due again, and a step's repeats are counted from those events too, each due a
repeat's interval after the step's last notification. The clock starts when the alert is raised
and starts afresh when it is reopened: reopened work is unattended again, so its steps are due
again from the reopening (occurrences keep counting, so every notification has its own number).
Steps that fell due while nobody ran the timer are all due at once; each tells other people.

A policy watches alerts of its tenant raised since it was defined, while it is enabled and while
none of its stop conditions holds; defining a policy never pages anyone about last month's alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.domain.alert import Alert, AlertStatus
from vigil.domain.escalation_policy import EscalationPolicy, Step, StopCondition, duration_text


@dataclass(frozen=True)
class DueEscalation:
    """One notification a policy's step owes an alert now."""

    policy: str
    step: int
    """The step's place in the policy, from 1, for people; the delay identifies it."""
    step_after_minutes: int
    occurrence: int
    """1 for the step's first notification of the alert, then 2 and on; with the alert id and
    the policy and step, a key a receiver can drop a repeated delivery by."""
    repeat: int
    """0 for the step's first notification since the alert was raised or reopened."""
    notify: tuple[str, ...]
    due_at: datetime

    @property
    def reason(self) -> str:
        after = duration_text(self.step_after_minutes)
        told = ", ".join(self.notify)
        said = f"policy {self.policy}, step {self.step} (at {after}): notify {told}"
        return f"{said}, repeat {self.repeat}" if self.repeat else said


@dataclass(frozen=True)
class EscalationTiming:
    due: tuple[DueEscalation, ...]
    """Due now, in the policy's step order."""
    next_due_at: datetime | None
    """When the first step not due now falls due, if nothing happens to the alert meanwhile;
    recording the due ones may bring their repeats, so ask again after recording them."""


NOTHING_DUE = EscalationTiming((), None)


def escalation_timing(
    policy: EscalationPolicy, history: Sequence[Alert.Event], now: datetime
) -> EscalationTiming:
    """What the policy owes the alert whose events, oldest first, are `history`."""
    alert = replayed(history)
    if not watches(policy, alert) or stopped_by(alert, policy) is not None:
        return NOTHING_DUE
    start, in_round, total = _notifications(history, policy.name)
    due, later = [], []
    for number, step in enumerate(policy.definition.steps, 1):
        sent = in_round.get(step.after_minutes, [])
        at = _next_time(step, start, sent)
        if at is None:
            continue
        if at > now:
            later.append(at)
            continue
        occurrence = total.get(step.after_minutes, 0) + 1
        due.append(
            DueEscalation(
                policy.name, number, step.after_minutes, occurrence, len(sent), step.notify, at
            )
        )
    return EscalationTiming(tuple(due), min(later, default=None))


def watches(policy: EscalationPolicy, alert: Alert) -> bool:
    """Whether the policy applies to the alert at all, whatever has happened to it since."""
    return (
        policy.enabled
        and policy.tenant_id == alert.tenant_id
        and alert.created_on >= policy.created_on
        and policy.definition.match.matches(alert)
    )


def stopped_by(alert: Alert, policy: EscalationPolicy) -> StopCondition | None:
    """The stop condition that holds for the alert now; a closed alert is always stopped."""
    holds = {
        StopCondition.ACKNOWLEDGED: alert.status is AlertStatus.ACKNOWLEDGED,
        StopCondition.ASSIGNED: alert.assignee is not None,
        StopCondition.LINKED_TO_CASE: alert.case_id is not None,
        StopCondition.RESOLVED: alert.status is AlertStatus.RESOLVED,
        StopCondition.DISMISSED: alert.status is AlertStatus.DISMISSED,
    }
    watched = policy.definition.stop_when | {StopCondition.RESOLVED, StopCondition.DISMISSED}
    return next((c for c in StopCondition if holds[c] and c in watched), None)


def replayed(history: Sequence[Alert.Event]) -> Alert:
    """The alert as its events leave it."""
    alert: Alert | None = None
    for event in history:
        alert = event.mutate(alert)
    if not isinstance(alert, Alert):
        raise ValueError("an alert's history starts with its Raised event")
    return alert


def _notifications(
    history: Sequence[Alert.Event], policy: str
) -> tuple[datetime, dict[int, list[datetime]], dict[int, int]]:
    """When the current round began; when each step notified in it; how often in all."""
    start = history[0].timestamp
    in_round: dict[int, list[datetime]] = {}
    total: dict[int, int] = {}
    for event in history:
        if isinstance(event, Alert.Reopened):
            start, in_round = event.timestamp, {}
        elif (
            isinstance(event, Alert.Escalated)
            and event.policy == policy
            and event.step_after_minutes is not None
        ):
            in_round.setdefault(event.step_after_minutes, []).append(event.timestamp)
            total[event.step_after_minutes] = total.get(event.step_after_minutes, 0) + 1
    return start, in_round, total


def _next_time(step: Step, start: datetime, sent: list[datetime]) -> datetime | None:
    if not sent:
        return start + timedelta(minutes=step.after_minutes)
    if step.repeat is not None and len(sent) <= step.repeat.times:
        return sent[-1] + timedelta(minutes=step.repeat.every_minutes)
    return None
