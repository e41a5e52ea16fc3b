"""Follows an application's notification log and keeps a projection's read-model tables current.

The eventsourcing library's own runner cannot follow an application stored in SQLite, so this one
reads the log in batches on both back ends. Each batch is one read-model transaction: lock the
tracking row, read the notifications after it, write the rows, move the tracking position. A crash
or a second runner can therefore neither skip an event nor apply one twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import asyncpg
from eventsourcing.application import Application
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.application.projection import Projection, RowChange, squash
from vigil.infrastructure.read_model.row_changes import write_row_changes
from vigil.infrastructure.read_model.tables import projection_tracking as tracking

log = logging.getLogger("vigil.projection")

LISTENING_POLL_SECONDS = 2.0
"""With LISTEN/NOTIFY, looking at the log is a safety net for a notification lost in a reconnect."""


class TrackingMoved(Exception):
    """Another runner applied this batch first; this one's transaction was rolled back."""


class EventStoreListener:
    """Hears the PostgreSQL event store's NOTIFY on every save, so the runner wakes at once."""

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.arrived = asyncio.Event()
        self._connection: Any = None

    async def __aenter__(self) -> asyncio.Event:
        self._connection = await asyncpg.connect(self.url)
        await self._connection.add_listener(self.channel, self._heard)
        return self.arrived

    async def __aexit__(self, *_: object) -> None:
        await self._connection.close()

    def _heard(self, *_: object) -> None:
        self.arrived.set()


@dataclass(frozen=True)
class _Batch:
    count: int
    last_id: int
    changes: list[RowChange]


class ProjectionRunner:
    """Runs one projection over one application's notification log into the read model."""

    def __init__(
        self,
        app: Application[Any],
        engine: AsyncEngine,
        projection: Projection,
        name: str | None = None,
        batch_size: int = 500,
        listener: EventStoreListener | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.projection = projection
        self.name = name or projection.name
        self.batch_size = batch_size
        self.listener = listener
        self._tracking_started = False

    async def catch_up(self) -> int:
        """Applies everything in the log up to its current end; returns how many events."""
        processed = 0
        while True:
            try:
                count = await self.apply_next_batch()
            except TrackingMoved:
                continue
            processed += count
            if count < self.batch_size:
                return processed

    async def run(self, stop: asyncio.Event, poll_interval: float = 0.2) -> None:
        """Keeps the read model current until `stop` is set, finishing the batch in hand."""
        async with self._new_events() as arrived:
            idle = poll_interval if self.listener is None else LISTENING_POLL_SECONDS
            while not stop.is_set():
                arrived.clear()
                try:
                    count = await self.apply_next_batch()
                except TrackingMoved:
                    continue
                if count < self.batch_size:
                    await _first_of(stop, arrived, seconds=idle)

    async def apply_next_batch(self) -> int:
        """One transaction: the rows of the next batch of events and the position after it."""
        await self._start_tracking()
        async with self.engine.begin() as connection:
            position = await self._lock_position(connection)
            batch = await anyio.to_thread.run_sync(self._read_after, position)
            if batch.count == 0:
                return 0
            await write_row_changes(connection, batch.changes)
            moved = await connection.execute(
                update(tracking)
                .where(tracking.c.projection_name == self.name)
                .where(tracking.c.notification_id == position)
                .values(notification_id=batch.last_id)
            )
            if moved.rowcount != 1:
                raise TrackingMoved(self.name)
        return batch.count

    async def position(self) -> int:
        """The id of the last notification applied, 0 before the first."""
        async with self.engine.connect() as connection:
            query = select(tracking.c.notification_id).where(
                tracking.c.projection_name == self.name
            )
            return (await connection.execute(query)).scalar_one_or_none() or 0

    def _read_after(self, position: int) -> _Batch:
        # Runs in a worker thread: the eventsourcing recorder and the mapper are synchronous.
        notifications = self.app.recorder.select_notifications(
            position, self.batch_size, inclusive_of_start=False
        )
        to_event = self.app.mapper.to_domain_event
        changes = squash(
            change for n in notifications for change in self.projection.changes(to_event(n))
        )
        last_id = notifications[-1].id if notifications else position
        return _Batch(len(notifications), last_id, changes)

    async def _lock_position(self, connection: AsyncConnection) -> int:
        # FOR UPDATE makes a second runner on PostgreSQL wait for this batch, then read the
        # position after it; SQLite has one writer at a time, and the tracking update checks.
        query = (
            select(tracking.c.notification_id)
            .where(tracking.c.projection_name == self.name)
            .with_for_update()
        )
        return int((await connection.execute(query)).scalar_one())

    async def _start_tracking(self) -> None:
        if self._tracking_started:
            return
        async with self.engine.begin() as connection:
            dialect = connection.dialect.name
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(tracking)
            await connection.execute(
                insert.values(
                    projection_name=self.name, application_name=self.app.name, notification_id=0
                ).on_conflict_do_nothing(index_elements=[tracking.c.projection_name])
            )
        self._tracking_started = True

    @asynccontextmanager
    async def _new_events(self) -> AsyncIterator[asyncio.Event]:
        if self.listener is None:
            yield asyncio.Event()
            return
        async with self.listener as arrived:
            yield arrived


async def _first_of(*events: asyncio.Event, seconds: float) -> None:
    """Returns when one of the events is set, or after `seconds`."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
