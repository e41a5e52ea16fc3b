"""The alert queue read model: what analysts list, filter and page through.

The projection that maintains it lives in `vigil.application.alert_projection`; the SQLAlchemy
adapter that stores and queries it implements `AlertQueue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
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
    tags: list[str] = field(default_factory=list)
    rule_hits: list[str] = field(default_factory=list)
    rule_set_version: int | None = None


class AlertOrder(StrEnum):
    """The orders the queue lists in; each is a keyset, so any page costs the same."""

    NEWEST = "newest"
    OLDEST = "oldest"
    HIGHEST_SCORE = "highest_score"
    RECENTLY_UPDATED = "recently_updated"


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
    tag: str | None = None


AlertPage = Page[AlertRow]


class AlertQueue(Protocol):
    """Reads the alert queue read model; always scoped to one tenant."""

    async def page(
        self,
        where: AlertQueueFilter,
        first: int,
        after: str | None,
        order: AlertOrder = AlertOrder.NEWEST,
    ) -> AlertPage:
        """A page of the queue, newest first; the total comes from maintained counts when the
        filter names nothing but a status, so it costs the same at any size of queue."""
        ...

    async def get(self, tenant_id: str, alert_id: UUID) -> AlertRow | None: ...

    async def status_counts(self, where: AlertQueueFilter) -> dict[str, int]:
        """How many alerts of each status match the filter's other fields, in one query; a
        status without alerts is left out."""
        ...

    async def in_cases(self, tenant_id: str, case_ids: Sequence[UUID]) -> list[AlertRow]:
        """The tenant's alerts in any of these cases, newest first, in one query."""
        ...
