"""The evidence read model: comments on alerts and cases, and the files of each case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID


@dataclass(frozen=True)
class CommentRow:
    id: UUID
    tenant_id: str
    subject_kind: str
    subject_id: UUID
    author: str
    text: str
    at: datetime
    version: int


@dataclass(frozen=True)
class CaseFileRow:
    id: UUID
    tenant_id: str
    case_id: UUID
    sha256: str
    filename: str
    content_type: str
    size: int
    attached_by: str
    attached_at: datetime
    removed_by: str | None
    removed_at: datetime | None
    removal_reason: str | None
    version: int


class EvidenceBook(Protocol):
    """Reads comments and case files; always scoped to one tenant."""

    async def comments(self, tenant_id: str, subject_ids: Sequence[UUID]) -> list[CommentRow]:
        """The comments on these alerts or cases, oldest first, in one query."""
        ...

    async def case_files(self, tenant_id: str, case_ids: Sequence[UUID]) -> list[CaseFileRow]:
        """Every file these cases have had, removed ones included, in the order attached."""
        ...
