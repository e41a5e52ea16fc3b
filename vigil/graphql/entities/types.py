"""The Entity type and its summary, as the read models keep them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from vigil.application.entity_summary import EntitySummaryRow
from vigil.graphql.alerts.types import Alert
from vigil.graphql.cases.types import Case
from vigil.graphql.labels.types import Label, LabelSource, Verdict


@strawberry.type(
    description="The latest verdict on an entity or on the record of one of its alerts."
)
class LastLabel:
    verdict: Verdict
    label_source: LabelSource
    labelled_at: datetime


@strawberry.type(description="An entity at a glance, kept current by a projection.")
class EntitySummary:
    sources: list[str] = strawberry.field(description="The sources the summary covers.")
    alert_count: int
    open_case_count: int = strawberry.field(
        description="Cases not closed that hold at least one of its alerts."
    )
    last_alert_at: datetime | None
    last_label: LastLabel | None

    @classmethod
    def from_rows(cls, rows: list[EntitySummaryRow]) -> EntitySummary | None:
        """One source's summary, or several added up: an entity id asked for without a source
        may name an entity in each."""
        if not rows:
            return None
        alerted = [r.last_alert_at for r in rows if r.last_alert_at is not None]
        return cls(
            sources=[r.source for r in rows],
            alert_count=sum(r.alert_count for r in rows),
            open_case_count=sum(r.open_case_count for r in rows),
            last_alert_at=max(alerted, default=None),
            last_label=max(
                (label for label in map(_last_label, rows) if label is not None),
                key=lambda label: label.labelled_at,
                default=None,
            ),
        )


def _last_label(row: EntitySummaryRow) -> LastLabel | None:
    if row.last_verdict is None or row.last_label_source is None or row.last_labelled_at is None:
        return None
    return LastLabel(
        verdict=Verdict(row.last_verdict),
        label_source=LabelSource(row.last_label_source),
        labelled_at=row.last_labelled_at,
    )


@strawberry.type(description="Everything known about one entity: a customer, a card, a device.")
class Entity:
    id: str
    alert_count: int
    alerts: list[Alert] = strawberry.field(description="Its most recent alerts, newest first.")
    cases: list[Case] = strawberry.field(description="The cases its alerts are in.")
    labels: list[Label] = strawberry.field(
        description="Verdicts on the entity itself and on the records of its alerts."
    )
    summary: EntitySummary | None = strawberry.field(
        description="Its counts and last label in `source`, or over every source it appears in "
        "when none is given; null while the projection has not reached it."
    )

    @strawberry.field(description="How many of its cases are not closed.")
    def open_case_count(self) -> int:
        return sum(1 for case in self.cases if case.closed_at is None)
