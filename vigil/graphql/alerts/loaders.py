"""Per-request loaders: whatever a page of alerts or cases resolves for each of its rows is
fetched in one trip for all of them, one SQL query (or one event-store read) per loader."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import anyio.to_thread
from strawberry.dataloader import DataLoader

from vigil.application.alert_desk import AlertDesk, TimelineEntry
from vigil.application.alert_queue import AlertQueue, AlertRow
from vigil.application.case_list import CaseList, CaseRow
from vigil.application.delivery_records import timeline_with_deliveries
from vigil.application.label_book import LabelBook, LabelRow
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
        return timeline_with_deliveries(desk, tenant_id, alert_id)
    except AlertNotFound:
        return []


def case_loader(case_list: CaseList, tenant_id: str) -> DataLoader[UUID, CaseRow | None]:
    """Cases by id; another tenant's case, or one not yet projected, loads as None."""

    async def load(case_ids: list[UUID]) -> list[CaseRow | None]:
        found = {row.id: row for row in await case_list.get_many(tenant_id, case_ids)}
        return [found.get(case_id) for case_id in case_ids]

    return DataLoader(load_fn=load)


def standing_label_loader(
    label_book: LabelBook, tenant_id: str
) -> DataLoader[UUID, LabelRow | None]:
    """Labels by id (a subject's `label_id`); a subject without a standing verdict loads as None."""

    async def load(label_ids: list[UUID]) -> list[LabelRow | None]:
        found = {row.id: row for row in await label_book.standing(tenant_id, label_ids)}
        return [found.get(label_id) for label_id in label_ids]

    return DataLoader(load_fn=load)


def case_alerts_loader(alert_queue: AlertQueue, tenant_id: str) -> DataLoader[UUID, list[AlertRow]]:
    """Each case's alerts, newest first."""

    async def load(case_ids: list[UUID]) -> list[list[AlertRow]]:
        by_case: dict[UUID, list[AlertRow]] = {case_id: [] for case_id in case_ids}
        for row in await alert_queue.in_cases(tenant_id, case_ids):
            if row.case_id in by_case:
                by_case[row.case_id].append(row)
        return [by_case[case_id] for case_id in case_ids]

    return DataLoader(load_fn=load)
