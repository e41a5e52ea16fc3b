"""An escalation policy's history as people read it: who defined, changed, disabled or enabled
it, when, and why; read from the policy's own events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigil.application.alert_desk import AlertDesk
from vigil.application.escalation_policies import get_policy
from vigil.domain.escalation_policy import EscalationPolicy


@dataclass(frozen=True)
class PolicyChange:
    event: str
    """Defined, Changed, Disabled or Enabled."""
    actor: str
    at: datetime
    why: str
    """The note of a definition or change, the reason of a disabling or enabling."""
    revision: int
    """The definition's revision once the event was recorded."""


def policy_history(desk: AlertDesk, tenant_id: str, name: str) -> list[PolicyChange]:
    """Oldest first; PolicyNotFound for another tenant's policy, or one nobody defined."""
    policy = get_policy(desk, tenant_id, name)
    changes, revision = [], 0
    for event in desk.events.get(policy.id):
        if isinstance(event, EscalationPolicy.Defined):
            revision, why = 1, event.note
        elif isinstance(event, EscalationPolicy.Changed):
            revision, why = event.revision, event.note
        elif isinstance(event, EscalationPolicy.Disabled | EscalationPolicy.Enabled):
            why = event.reason
        else:
            continue
        changes.append(
            PolicyChange(type(event).__name__, event.actor, event.timestamp, why, revision)
        )
    return changes
