"""The entity summary read model: what is known at a glance about one customer, card or device.

Its projection lives in `vigil.application.entity_summary_projection`; the SQLAlchemy adapter
that recomputes and reads it implements `EntitySummaries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class EntitySummaryRow:
    """One entity of one source; its last label is the latest verdict standing on the entity or
    on the record of one of its alerts."""

    tenant_id: str
    source: str
    entity_id: str
    alert_count: int
    open_case_count: int
    """Cases not closed that hold at least one of its alerts."""
    last_alert_at: datetime | None
    last_verdict: str | None
    last_label_source: str | None
    last_labelled_at: datetime | None


class EntitySummaries(Protocol):
    """Reads the entity summaries; always scoped to one tenant."""

    async def of(
        self, tenant_id: str, entity_id: str, source: str | None
    ) -> list[EntitySummaryRow]:
        """The entity's summary in `source`, or in every source it appears in when none is given."""
        ...
