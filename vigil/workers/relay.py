"""The relay: publishes every event of the event store's notification log to the DOMAIN stream.

It keeps no position of its own. It starts from the newest notice on the stream and publishes the
log after it, batch by batch, so a kill at any moment neither loses nor repeats an event there.
One relay per install is enough; a second one only publishes what the stream already has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import anyio

from vigil.application.domain_events import (
    DomainEventNotice,
    DomainEventPublisher,
    RelayInterrupted,
)
from vigil.application.log_arrivals import arrivals, first_of

log = logging.getLogger("vigil.workers.relay")

ReadLog = Callable[[int, int], Sequence[DomainEventNotice]]
"""(after, limit) -> the next notices of the log; synchronous, so it runs in a thread."""

LISTENING_POLL_SECONDS = 2.0
"""With LISTEN/NOTIFY, looking at the log is a safety net for a notification lost in a reconnect."""

RETRY_SECONDS = 1.0


class DomainEventRelay:
    """Follows one application's notification log onto the DOMAIN stream."""

    def __init__(
        self,
        read_log: ReadLog,
        publisher: DomainEventPublisher,
        batch_size: int = 1000,
        new_events: AbstractAsyncContextManager[asyncio.Event] | None = None,
    ) -> None:
        self.read_log = read_log
        self.publisher = publisher
        self.batch_size = batch_size
        self.new_events = new_events
        self.position: int | None = None
        """The notification id of the newest notice on the stream, once known."""

    async def catch_up(self) -> int:
        """Publishes everything in the log up to its current end; returns how many events."""
        relayed = 0
        while True:
            count = await self.relay_next_batch()
            relayed += count
            if count < self.batch_size:
                return relayed

    async def run(self, stop: asyncio.Event, poll_interval: float = 0.2) -> None:
        """Relays until `stop` is set; a stream that refuses a batch is retried from its end."""
        async with arrivals(self.new_events) as arrived:
            idle = poll_interval if self.new_events is None else LISTENING_POLL_SECONDS
            while not stop.is_set():
                arrived.clear()
                try:
                    count = await self.relay_next_batch()
                except RelayInterrupted as interrupted:
                    log.warning("%s; resuming from the stream's end", interrupted)
                    self.position = None
                    await first_of(stop, seconds=RETRY_SECONDS)
                    continue
                if count < self.batch_size:
                    await first_of(stop, arrived, seconds=idle)

    async def relay_next_batch(self) -> int:
        if self.position is None:
            self.position = await self.publisher.last_published()
            log.info("relaying the event log after notification %d", self.position)
        notices = await anyio.to_thread.run_sync(self.read_log, self.position, self.batch_size)
        if notices:
            await self.publisher.publish(self.position, notices)
            self.position = notices[-1].notification_id
        return len(notices)
