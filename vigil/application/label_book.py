"""The label book read model: the verdict that stands on each labelled record or entity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True)
class LabelRow:
    id: UUID
    tenant_id: str
    source: str
    kind: str
    subject_id: str
    verdict: str | None
    label_source: str | None
    labelled_by: str | None
    labelled_at: datetime | None
    provenance: dict[str, Any] | None
    version: int


@dataclass(frozen=True)
class LabelFilter:
    tenant_id: str
    source: str | None = None
    kind: str | None = None
    subject_id: str | None = None
    verdict: str | None = None
    subject_ids: tuple[str, ...] | None = None
    """Any of these subjects, when given."""


class LabelBook(Protocol):
    """Reads the labels read model; always scoped to one tenant."""

    async def find(self, where: LabelFilter, first: int) -> list[LabelRow]:
        """Standing labels matching the filter, most recently labelled first."""
        ...

    async def standing(self, tenant_id: str, label_ids: Sequence[UUID]) -> list[LabelRow]:
        """The tenant's labels among these ids (`label_id` of their subjects) that hold a
        verdict now, in one query."""
        ...
