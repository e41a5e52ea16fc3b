"""The case list read model: what analysts and leads page through, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from vigil.application.page import Page


@dataclass(frozen=True)
class CaseRow:
    """One case as the case list shows it; rebuilt from events, never edited by hand."""

    id: UUID
    tenant_id: str
    title: str
    priority: str
    status: str
    assignee: str | None
    disposition: str | None
    summary: str | None
    alert_count: int
    comment_count: int
    due_at: datetime
    sla_breached: bool
    opened_by: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseListFilter:
    tenant_id: str
    status: str | None = None
    assignee: str | None = None
    priority: str | None = None
    tag: str | None = None


class CaseOrder(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    DUE_SOONEST = "due_soonest"
    RECENTLY_UPDATED = "recently_updated"


CasePage = Page[CaseRow]


class CaseList(Protocol):
    """Reads the case list read model; always scoped to one tenant."""

    async def page(
        self,
        where: CaseListFilter,
        first: int,
        after: str | None,
        order: CaseOrder = CaseOrder.NEWEST,
    ) -> CasePage: ...

    async def get(self, tenant_id: str, case_id: UUID) -> CaseRow | None: ...

    async def get_many(self, tenant_id: str, case_ids: Sequence[UUID]) -> list[CaseRow]:
        """The tenant's cases among these ids, newest first, in one query."""
        ...

    async def overdue(self, now: datetime, limit: int) -> list[CaseRow]:
        """Cases of every tenant still open after their due date and not yet marked breached;
        for the SLA timer, a system process, not for any tenant's user."""
        ...
