"""The escalation timer: records every step the tenants' policies owe their open alerts once it
falls due, whenever the timer runs.

What it holds is a cache of the event log and nothing more. It keeps an index of the open alerts
a policy could watch, with when each is next due: the open alerts of a tenant raised since its
first policy was defined (no policy watches an alert raised before it, and policies are never
removed, so later ones watch fewer). It builds the index at start from the log's Raised events,
then follows the log from there: each beat reads only the events stored since its last look
that can change an escalation, and works out again the alerts they name (all of a tenant's
indexed alerts when its policies changed). Steps are recorded by `escalate_due`, which reads the
alert's own events again, so a restart, a second timer or an index a beat behind never records
a step twice, and a step that fell due while no timer ran is recorded at the next beat.
Blocking: async callers go through a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification
from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.escalation_policies import (
    POLICY_TOPICS,
    PolicyDirectory,
    due_escalations,
    escalate_due,
)
from vigil.domain.alert import Alert
from vigil.domain.errors import DomainError
from vigil.domain.escalation_timing import replayed

log = logging.getLogger("vigil.escalation_timer")

READ_AT_ONCE = 500

_RAISED = get_topic(Alert.Raised)
_REOPENED = get_topic(Alert.Reopened)
_ALERT_TOPICS = [
    get_topic(event)
    for event in (
        Alert.Raised,
        Alert.Acknowledged,
        Alert.Assigned,
        Alert.Escalated,
        Alert.Dismissed,
        Alert.Resolved,
        Alert.Reopened,
        Alert.LinkedToCase,
        Alert.UnlinkedFromCase,
    )
]
"""The events that can start, move or stop an alert's escalation; comments and tags cannot."""
_RETURNING = frozenset({_RAISED, _REOPENED})
"""Events that bring an alert the index does not hold into it: a new alert, a reopened one."""


@dataclass
class WatchedAlert:
    tenant_id: str
    next_due_at: datetime | None
    """None while no step is pending: stopped, or matched by no policy (a changed policy may
    match it yet)."""


@dataclass(frozen=True)
class TimerBeat:
    """What one beat did."""

    escalations: int
    """Escalated events recorded."""
    alerts: int
    """Open alerts the index holds after the beat."""
    next_due_at: datetime | None


class EscalationTimer:
    """Follows the alerts' log and records each policy step as it falls due."""

    def __init__(self, desk: AlertDesk, read_at_once: int = READ_AT_ONCE) -> None:
        self.desk = desk
        self.read_at_once = read_at_once
        self.policies = PolicyDirectory(desk)
        self.position: int | None = None
        """The notification id of the last event read; None until the index is built."""
        self.index: dict[UUID, WatchedAlert] = {}

    @property
    def next_due_at(self) -> datetime | None:
        """When the first indexed alert's next step falls due, if nothing happens meanwhile."""
        pending = [w.next_due_at for w in self.index.values() if w.next_due_at is not None]
        return min(pending, default=None)

    def beat(self) -> TimerBeat:
        """Catches up with the log (building the index first, at start), then records every
        step due now."""
        if self.position is None:
            self.build()
        else:
            self.follow()
        escalations = self.escalate_due_now()
        return TimerBeat(escalations, len(self.index), self.next_due_at)

    # The index --------------------------------------------------------------------------------

    def build(self) -> None:
        """The index from the log: every open alert raised since its tenant's first policy."""
        end = self.desk.recorder.max_notification_id() or 0
        self.policies.refresh()
        self.index = {}
        raised: list[UUID] = []
        position = 0
        while position < end and self._first_policy_times():
            notifications = self._select(position, [_RAISED], stop=end)
            raised.extend(self._watchable(notifications))
            if not notifications:
                break
            position = notifications[-1].id
        for alert_id in raised:
            self.reconsider(alert_id)
        self.position = end
        log.info("escalation timer: %d open alerts indexed, up to event %d", len(self.index), end)

    def follow(self) -> None:
        """Reads the events stored since the last look and works out again the alerts they
        name."""
        assert self.position is not None
        while True:
            notifications = self._select(self.position, [*_ALERT_TOPICS, *POLICY_TOPICS])
            changed = self.policies.refresh() if self._any_policy(notifications) else set()
            named = self._named_alerts(notifications)
            for alert_id in named:
                self.reconsider(alert_id)
            for alert_id, watched in list(self.index.items()):
                if watched.tenant_id in changed and alert_id not in named:
                    self.reconsider(alert_id)
            if notifications:
                self.position = notifications[-1].id
            if len(notifications) < self.read_at_once:
                return

    def reconsider(self, alert_id: UUID) -> None:
        """Indexes the alert with its next due time, or drops it once closed or never
        watchable."""
        history = [e for e in self.desk.events.get(alert_id) if isinstance(e, Alert.Event)]
        if not history:
            self.index.pop(alert_id, None)
            return
        tenant_id, raised_at = history[0].tenant_id, history[0].timestamp
        since = self._first_policy_times().get(tenant_id)
        if since is None or raised_at < since or replayed(history).is_closed:
            self.index.pop(alert_id, None)
            return
        now = self.desk.clock()
        agenda = due_escalations(history, self.policies.held(tenant_id, enabled_only=True), now)
        next_due_at = now if agenda.due else agenda.next_due_at
        self.index[alert_id] = WatchedAlert(tenant_id, next_due_at)

    # Recording --------------------------------------------------------------------------------

    def escalate_due_now(self) -> int:
        """Records the steps of every indexed alert due by the clock; how many were recorded."""
        now, recorded = self.desk.clock(), 0
        due = [
            (alert_id, watched)
            for alert_id, watched in self.index.items()
            if watched.next_due_at is not None and watched.next_due_at <= now
        ]
        for alert_id, watched in due:
            policies = self.policies.held(watched.tenant_id, enabled_only=True)
            try:
                agenda = escalate_due(self.desk, watched.tenant_id, alert_id, policies)
            except (DomainError, IntegrityError) as refused:
                # Changed twice while read (or closed): the next beat reads its events again.
                log.info("alert %s not escalated this beat: %s", alert_id, refused)
                continue
            recorded += len(agenda.due)
            watched.next_due_at = agenda.next_due_at
        return recorded

    # Reading the log --------------------------------------------------------------------------

    def _select(
        self, position: int, topics: Sequence[str], stop: int | None = None
    ) -> Sequence[Notification]:
        return self.desk.recorder.select_notifications(
            position, self.read_at_once, stop=stop, topics=topics, inclusive_of_start=False
        )

    def _first_policy_times(self) -> dict[str, datetime]:
        """When each tenant with policies defined its first, disabled ones included."""
        first: dict[str, datetime] = {}
        for policy in self.policies.every():
            known = first.get(policy.tenant_id)
            if known is None or policy.created_on < known:
                first[policy.tenant_id] = policy.created_on
        return first

    def _watchable(self, notifications: Iterable[Notification]) -> list[UUID]:
        """The alerts of the notifications in tenants with policies, without loading them."""
        tenants = self._first_policy_times()
        found = []
        for notification in notifications:
            event = self.desk.mapper.to_domain_event(notification)
            if isinstance(event, Alert.Event) and event.tenant_id in tenants:
                found.append(event.originator_id)
        return list(dict.fromkeys(found))

    def _named_alerts(self, notifications: Sequence[Notification]) -> list[UUID]:
        """The alerts the notifications change that the index holds, or that they bring in."""
        alert_topics = set(_ALERT_TOPICS)
        named: dict[UUID, None] = {}
        returning = []
        for notification in notifications:
            if notification.topic not in alert_topics:
                continue
            alert_id = UUID(str(notification.originator_id))
            if alert_id in self.index:
                named[alert_id] = None
            elif notification.topic in _RETURNING:
                returning.append(notification)
        named.update(dict.fromkeys(self._watchable(returning)))
        return list(named)

    @staticmethod
    def _any_policy(notifications: Iterable[Notification]) -> bool:
        return any(n.topic in POLICY_TOPICS for n in notifications)
