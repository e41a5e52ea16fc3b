"""Follows an application's notification log and keeps a group of projections' tables current.

The eventsourcing library's own runner cannot follow an application stored in SQLite, so this one
reads the log in batches on both back ends. Each batch is one read-model transaction: lock the
group's tracking rows, read the notifications after the earliest, decode each event once and hand
it to every projection that has not seen it, write all their rows, move every tracking position.
A crash or a second runner can therefore neither skip an event nor apply one twice.

Every projection keeps its own position, so one added to the group later starts from event zero
while the others skip what they have seen, and the group moves together once it has caught up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import asyncpg
from eventsourcing.application import Application
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.application.log_arrivals import arrivals, first_of
from vigil.application.projection import Projection, RowChange, squash
from vigil.infrastructure.read_model.row_changes import write_row_changes
from vigil.infrastructure.read_model.tables import projection_tracking as tracking

log = logging.getLogger("vigil.projection")

LISTENING_POLL_SECONDS = 2.0
"""With LISTEN/NOTIFY, looking at the log is a safety net for a notification lost in a reconnect."""
GATHER_SECONDS = 0.1
"""The least time from one batch's start to the next's while the log grows a little at a time:
under a steady stream of saves a batch gathers several of them, so the read model takes a few
larger transactions a second instead of one per save. A quiet log's first save is applied at
once, and a full batch is followed at once by the next."""


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
    """Runs a group of projections over one application's notification log into the read model,
    reading and decoding each event once for all of them."""

    def __init__(
        self,
        app: Application[Any],
        engine: AsyncEngine,
        projections: Sequence[Projection],
        batch_size: int = 500,
        listener: EventStoreListener | None = None,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        names = [projection.name for projection in projections]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a group needs projections with distinct names, got {names}")
        self.app = app
        self.engine = engine
        self.projections = list(projections)
        self.name = "+".join(names)
        self.batch_size = batch_size
        self.listener = listener
        self.gather_seconds = gather_seconds
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
        loop = asyncio.get_running_loop()
        async with arrivals(self.listener) as arrived:
            idle = poll_interval if self.listener is None else LISTENING_POLL_SECONDS
            while not stop.is_set():
                arrived.clear()
                started = loop.time()
                try:
                    count = await self.apply_next_batch()
                except TrackingMoved:
                    continue
                if count < self.batch_size:
                    await first_of(stop, arrived, seconds=idle)
                    if count:  # the log is growing: let the next batch gather
                        gathering = started + self.gather_seconds - loop.time()
                        await first_of(stop, seconds=max(0.0, gathering))

    async def apply_next_batch(self) -> int:
        """One transaction: the rows of the next batch of events and the positions after it."""
        await self._start_tracking()
        async with self.engine.begin() as connection:
            positions = await self._lock_positions(connection)
            batch = await anyio.to_thread.run_sync(self._read_after, positions)
            if batch.count == 0:
                return 0
            await write_row_changes(connection, batch.changes)
            # One statement per position the group's projections were at: one, once caught up.
            behind: dict[int, list[str]] = defaultdict(list)
            for name, position in positions.items():
                if position < batch.last_id:  # else the batch was all old news to this one
                    behind[position].append(name)
            for position, names in behind.items():
                moved = await connection.execute(
                    update(tracking)
                    .where(tracking.c.projection_name.in_(names))
                    .where(tracking.c.notification_id == position)
                    .values(notification_id=batch.last_id)
                )
                if moved.rowcount != len(names):
                    raise TrackingMoved(", ".join(names))
        return batch.count

    async def positions(self) -> dict[str, int]:
        """The id of the last notification each projection applied, 0 before the first."""
        async with self.engine.connect() as connection:
            query = select(tracking.c.projection_name, tracking.c.notification_id).where(
                tracking.c.projection_name.in_(self._names)
            )
            found = {name: int(at) for name, at in await connection.execute(query)}
        return {name: found.get(name, 0) for name in self._names}

    async def position(self) -> int:
        """The id of the last notification every projection of the group has applied."""
        return min((await self.positions()).values())

    @property
    def _names(self) -> list[str]:
        return [projection.name for projection in self.projections]

    def _read_after(self, positions: dict[str, int]) -> _Batch:
        # Runs in a worker thread: the eventsourcing recorder and the mapper are synchronous.
        start = min(positions.values())
        notifications = self.app.recorder.select_notifications(
            start, self.batch_size, inclusive_of_start=False
        )
        to_event = self.app.mapper.to_domain_event
        changes: list[RowChange] = []
        for notification in notifications:
            behind = [p for p in self.projections if positions[p.name] < notification.id]
            if not behind:
                continue
            event = to_event(notification)
            for projection in behind:
                changes.extend(projection.changes(event))
        last_id = notifications[-1].id if notifications else start
        return _Batch(len(notifications), last_id, squash(changes))

    async def _lock_positions(self, connection: AsyncConnection) -> dict[str, int]:
        # FOR UPDATE makes a second runner on PostgreSQL wait for this batch, then read the
        # positions after it; SQLite has one writer at a time, and the tracking updates check.
        # Locking in name order keeps two runners of overlapping groups from deadlocking.
        query = (
            select(tracking.c.projection_name, tracking.c.notification_id)
            .where(tracking.c.projection_name.in_(self._names))
            .order_by(tracking.c.projection_name)
            .with_for_update()
        )
        found = {name: int(at) for name, at in await connection.execute(query)}
        return {name: found[name] for name in self._names}

    async def _start_tracking(self) -> None:
        if self._tracking_started:
            return
        async with self.engine.begin() as connection:
            dialect = connection.dialect.name
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(tracking)
            rows = [
                {"projection_name": name, "application_name": self.app.name, "notification_id": 0}
                for name in self._names
            ]
            await connection.execute(
                insert.on_conflict_do_nothing(index_elements=[tracking.c.projection_name]), rows
            )
        self._tracking_started = True
