"""The Label type: the verdict that stands on a record or an entity, and where it came from."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from vigil.application.label_book import LabelRow
from vigil.domain import label as domain
from vigil.graphql.alerts.types import jsonable

Verdict = domain.Verdict
LabelSource = domain.LabelSource
SubjectKind = domain.SubjectKind
strawberry.enum(Verdict)
strawberry.enum(LabelSource)
strawberry.enum(SubjectKind)


@strawberry.type(description="Ground truth on a record or an entity; the latest verdict wins.")
class Label:
    source: str
    kind: SubjectKind
    subject_id: str
    verdict: Verdict | None
    label_source: LabelSource | None
    labelled_by: str | None
    labelled_at: datetime | None
    provenance: JSON | None

    @classmethod
    def from_row(cls, row: LabelRow) -> Label:
        return cls(
            source=row.source,
            kind=SubjectKind(row.kind),
            subject_id=row.subject_id,
            verdict=Verdict(row.verdict) if row.verdict else None,
            label_source=LabelSource(row.label_source) if row.label_source else None,
            labelled_by=row.labelled_by,
            labelled_at=row.labelled_at,
            provenance=jsonable(row.provenance),
        )

    @classmethod
    def from_aggregate(cls, label: domain.Label) -> Label:
        """The verdict a command just saved, which the read model may not have caught up with."""
        return cls(
            source=label.source,
            kind=label.kind,
            subject_id=label.subject_id,
            verdict=label.verdict,
            label_source=label.label_source,
            labelled_by=label.labelled_by,
            labelled_at=label.labelled_at,
            provenance=jsonable(label.provenance) if label.verdict else None,
        )
