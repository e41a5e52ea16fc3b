"""The case's workflow as data: statuses and the moves between them, priorities, dispositions and
the SLA that turns a priority into a due date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    PENDING_INFO = "pending_info"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Disposition(StrEnum):
    CONFIRMED_FRAUD = "confirmed_fraud"
    FALSE_POSITIVE = "false_positive"
    INCONCLUSIVE = "inconclusive"


# Where change_status may go from each status; closing and reopening have commands of their own.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.INVESTIGATING}),
    CaseStatus.INVESTIGATING: frozenset({CaseStatus.PENDING_INFO}),
    CaseStatus.PENDING_INFO: frozenset({CaseStatus.INVESTIGATING}),
    CaseStatus.CLOSED: frozenset(),
}


@dataclass(frozen=True)
class CaseSla:
    """How long a case of each priority may stay open before its SLA is breached."""

    hours: dict[Priority, float] = field(
        default_factory=lambda: {
            Priority.CRITICAL: 4.0,
            Priority.HIGH: 24.0,
            Priority.MEDIUM: 72.0,
            Priority.LOW: 168.0,
        }
    )

    def due(self, priority: Priority, from_time: datetime) -> datetime:
        return from_time + timedelta(hours=self.hours[priority])
