"""The alert queue read model: what analysts list, filter and page through.

The projection that maintains it lives in `vigil.application.alert_projection`; the SQLAlchemy
adapter that stores and queries it implements `AlertQueue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from vigil.application.page import Page


@dataclass(frozen=True)
class AlertRow:
    """One alert as the queue shows it; rebuilt from events, never edited by hand."""

    id: UUID
    tenant_id: str
    source: str
    record_id: str
    model_line: str
    model_version: str
    score: float
    threshold: float
    severity: str
    status: str
    entity_id: str | None
    assignee: str | None
    escalation_level: int
    comment_count: int
    raised_at: datetime
    updated_at: datetime
    occurred_at: datetime | None
    version: int
    case_id: UUID | None = None


@dataclass(frozen=True)
class AlertQueueFilter:
    tenant_id: str
    status: str | None = None
    severity: str | None = None
    source: str | None = None
    case_id: UUID | None = None
    assignee: str | None = None
    entity_id: str | None = None
    model_version: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    raised_from: datetime | None = None
    raised_until: datetime | None = None
    """Raised at or after `raised_from` and before `raised_until`."""


AlertPage = Page[AlertRow]


class AlertQueue(Protocol):
    """Reads the alert queue read model; always scoped to one tenant."""

    async def page(self, where: AlertQueueFilter, first: int, after: str | None) -> AlertPage: ...

    async def get(self, tenant_id: str, alert_id: UUID) -> AlertRow | None: ...
