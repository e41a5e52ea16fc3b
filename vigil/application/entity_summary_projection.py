"""The entity summary projection: which entities' summaries an event may change.

A summary adds up many aggregates (an entity's alerts, the cases they are in, the labels on its
records), so no one event says what it becomes: the alert that a case's closing concerns is not
named in the Closed event, nor the entity a record label concerns in the Applied event. Each event
therefore asks for the summaries that depend on the row it changed to be recomputed from the
alert queue, case list and label rows, which the same runner writes in the same transaction.
That keeps the projection pure and a recomputation safe to repeat; it also means this projection
must run in one group with those three, as the composition root arranges.
"""

from __future__ import annotations

from collections.abc import Sequence

from vigil.application.alert_projection import ALERTS
from vigil.application.casework_projections import CASES, LABELS
from vigil.application.projection import Recompute, RowChange
from vigil.domain.alert import Alert
from vigil.domain.case import Case
from vigil.domain.label import Label

ENTITY_SUMMARIES = "entity_summaries"


class EntitySummaryProjection:
    """Keeps one `entity_summaries` row per (tenant, source, entity) that has alerts or labels."""

    name = "entity_summary"
    tables = (ENTITY_SUMMARIES,)

    def changes(self, event: object) -> Sequence[RowChange]:
        match event:
            case Alert.Raised() | Alert.LinkedToCase() | Alert.UnlinkedFromCase():
                return [Recompute(ENTITY_SUMMARIES, ALERTS, event.originator_id)]
            case Case.Closed() | Case.Reopened():
                return [Recompute(ENTITY_SUMMARIES, CASES, event.originator_id)]
            case Label.Applied() | Label.Revoked():
                return [Recompute(ENTITY_SUMMARIES, LABELS, event.originator_id)]
        return []
