"""Training labels from the event store: the verdicts analysts, case dispositions and imports
recorded on records, laid over a file's label column.

A verdict in the store is the latest word on its record, so it wins over the file's column; a
record with neither counts as genuine, as the label windows count it.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.application.label_book import LabelBook, LabelFilter
from vigil.domain.label import SubjectKind, Verdict

CHUNK = 500
"""Record ids asked for in one query: the most the label book answers at once."""


async def stored_verdicts(
    book: LabelBook, tenant_id: str, source: str, record_ids: Sequence[str]
) -> dict[str, int]:
    """The standing verdict on each of the records that has one: 1 fraud, 0 legitimate."""
    found: dict[str, int] = {}
    for start in range(0, len(record_ids), CHUNK):
        chunk = tuple(record_ids[start : start + CHUNK])
        where = LabelFilter(tenant_id, source, str(SubjectKind.RECORD), subject_ids=chunk)
        for row in await book.find(where, first=len(chunk)):
            if row.verdict is not None:
                found[row.subject_id] = int(row.verdict == str(Verdict.FRAUD))
    return found


def overlaid(
    record_ids: Sequence[str], file_labels: Sequence[int] | None, stored: dict[str, int]
) -> list[int]:
    """Each record's label: the store's verdict, else the file's, else genuine (0)."""
    fallback = file_labels if file_labels is not None else [0] * len(record_ids)
    return [
        stored.get(record_id, label) for record_id, label in zip(record_ids, fallback, strict=True)
    ]
