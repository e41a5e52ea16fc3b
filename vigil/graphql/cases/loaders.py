"""Per-request loaders of what analysts said and attached: one query for a whole page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader

from vigil.application.evidence import CaseFileRow, CommentRow, EvidenceBook

Row = TypeVar("Row")


def comments_loader(book: EvidenceBook, tenant_id: str) -> DataLoader[UUID, list[CommentRow]]:
    """The comments on alerts or cases by their ids, each list oldest first."""
    return _grouped(lambda ids: book.comments(tenant_id, ids), lambda row: row.subject_id)


def case_files_loader(book: EvidenceBook, tenant_id: str) -> DataLoader[UUID, list[CaseFileRow]]:
    """The files of cases by their ids, each list in the order attached."""
    return _grouped(lambda ids: book.case_files(tenant_id, ids), lambda row: row.case_id)


def _grouped(
    fetch: Callable[[Sequence[UUID]], Awaitable[list[Row]]], owner: Callable[[Row], UUID]
) -> DataLoader[UUID, list[Row]]:
    """Rows of many owners in one fetch, handed back per owner in the fetch's order."""

    async def load(owner_ids: list[UUID]) -> list[list[Row]]:
        by_owner: dict[UUID, list[Row]] = defaultdict(list)
        for row in await fetch(owner_ids):
            by_owner[owner(row)].append(row)
        return [by_owner[owner_id] for owner_id in owner_ids]

    return DataLoader(load_fn=load)
