"""Per-request loaders of what analysts said and attached: one query for a whole page."""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from strawberry.dataloader import DataLoader

from vigil.application.evidence import CaseFileRow, CommentRow, EvidenceBook


def comments_loader(book: EvidenceBook, tenant_id: str) -> DataLoader[UUID, list[CommentRow]]:
    """The comments on alerts or cases by their ids, each list oldest first."""

    async def load(subject_ids: list[UUID]) -> list[list[CommentRow]]:
        by_subject: dict[UUID, list[CommentRow]] = defaultdict(list)
        for row in await book.comments(tenant_id, subject_ids):
            by_subject[row.subject_id].append(row)
        return [by_subject[subject_id] for subject_id in subject_ids]

    return DataLoader(load_fn=load)


def case_files_loader(book: EvidenceBook, tenant_id: str) -> DataLoader[UUID, list[CaseFileRow]]:
    """The files of cases by their ids, each list in the order attached."""

    async def load(case_ids: list[UUID]) -> list[list[CaseFileRow]]:
        by_case: dict[UUID, list[CaseFileRow]] = defaultdict(list)
        for row in await book.case_files(tenant_id, case_ids):
            by_case[row.case_id].append(row)
        return [by_case[case_id] for case_id in case_ids]

    return DataLoader(load_fn=load)
