"""Per-request loaders: one trip to the event store for every alert a query touches."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import anyio.to_thread
from strawberry.dataloader import DataLoader

from vigil.application.alert_desk import AlertDesk, TimelineEntry
from vigil.domain.errors import AlertNotFound


def timeline_loader(desk: AlertDesk, tenant_id: str) -> DataLoader[UUID, list[TimelineEntry]]:
    """Timelines of many alerts read in one worker thread, because the event store is blocking."""

    def read(alert_ids: Sequence[UUID]) -> list[list[TimelineEntry]]:
        return [_timeline_or_empty(desk, tenant_id, alert_id) for alert_id in alert_ids]

    async def load(alert_ids: list[UUID]) -> list[list[TimelineEntry]]:
        return await anyio.to_thread.run_sync(read, alert_ids)

    return DataLoader(load_fn=load)


def _timeline_or_empty(desk: AlertDesk, tenant_id: str, alert_id: UUID) -> list[TimelineEntry]:
    # Rows come from the read model, which only knows alerts the store has; an alert that is
    # not found here belongs to another tenant, and shows nothing rather than failing the query.
    try:
        return desk.timeline(tenant_id, alert_id)
    except AlertNotFound:
        return []
