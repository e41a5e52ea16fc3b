"""The ingest worker: records of every `nats` and `mqtt` source into intake, in batches.

It looks at the registered sources every few seconds and has each feed take exactly their
subjects or topics, so a source applied while it runs is taken without a restart. A message is
acknowledged only once intake has published it or dead-lettered it; one that intake could not
take is handed back and comes again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import anyio

from vigil.application.intake import Intake
from vigil.application.log_arrivals import first_of
from vigil.application.ports import DeadLetters
from vigil.application.source_directory import SourceDirectory
from vigil.application.source_routes import AddressedDelivery, AddressedFeed, SourceRoutes
from vigil.application.streamed_intake import admit_streamed
from vigil.domain.source_contract import SourceType

log = logging.getLogger("vigil.workers.ingest")

RETRY_SECONDS = 2.0
"""How soon a message intake could not take comes again, and a failed feed is tried again."""


class IngestWorker:
    def __init__(
        self,
        directory: SourceDirectory,
        intake: Intake,
        dead_letters: DeadLetters,
        feeds: Mapping[SourceType, AddressedFeed],
        default_tenant: str,
        batch_size: int = 1000,
        refresh_seconds: float = 2.0,
        batches_in_flight: int = 2,
    ) -> None:
        self.directory = directory
        self.intake = intake
        self.dead_letters = dead_letters
        self.feeds = feeds
        self.default_tenant = default_tenant
        self.batch_size = batch_size
        self.refresh_seconds = refresh_seconds
        self.batches_in_flight = batches_in_flight
        """NATS batches in hand at once: one is checked while the last one's acks are on their
        way. MQTT acknowledges in the order messages came, so its batches go one at a time."""
        self.routes = {kind: SourceRoutes(kind, (), default_tenant) for kind in feeds}
        self._followed: dict[SourceType, dict[str, int]] = {kind: {} for kind in feeds}

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        """Takes messages until `stop` is set, then finishes the batches in hand."""
        await self.refresh()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._refreshing(stop))
            for kind, feed in self.feeds.items():
                in_flight = self.batches_in_flight if kind is SourceType.NATS else 1
                for _ in range(in_flight):
                    tasks.create_task(self._consuming(kind, feed, stop, wait_seconds))

    async def refresh(self) -> None:
        """Reads the sources and has each feed follow their patterns; a feed that cannot is
        logged and tried again at the next refresh, without holding up the others."""
        listed = await anyio.to_thread.run_sync(self.directory.refresh)
        for kind, feed in self.feeds.items():
            routes = SourceRoutes.of(kind, listed, self.default_tenant)
            if routes != self.routes[kind]:
                self.routes[kind] = routes
                names = ", ".join(f"{s.tenant_id}/{s.name}" for s in routes.sources) or "none"
                log.info("%s sources: %s", kind, names)
            patterns = routes.patterns()
            if patterns == self._followed[kind]:
                continue
            try:
                await feed.follow(patterns)
            except Exception:
                log.exception("the %s feed could not follow %s", kind, sorted(patterns))
                continue
            self._followed[kind] = patterns

    async def handle(self, kind: SourceType, deliveries: list[AddressedDelivery]) -> None:
        """Admits one batch, then acknowledges what intake took and hands back the rest."""
        outcome = await admit_streamed(
            deliveries, self.routes[kind], self.intake, self.dead_letters
        )
        # An ack only queues a few bytes on the connection; awaiting each in turn is cheaper
        # than a task per message.
        for delivery in outcome.taken:
            await delivery.ack()
        for delivery in outcome.failed:
            await delivery.nak(RETRY_SECONDS)
        log.debug(
            "%s batch: %d accepted, %d dead-lettered, %d unrouted, %d handed back",
            kind,
            outcome.accepted,
            outcome.dead_lettered,
            outcome.unrouted,
            len(outcome.failed),
        )

    async def _refreshing(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await first_of(stop, seconds=self.refresh_seconds)
            if stop.is_set():
                return
            try:
                await self.refresh()
            except Exception:
                log.exception("reading the sources failed; trying again")

    async def _consuming(
        self, kind: SourceType, feed: AddressedFeed, stop: asyncio.Event, wait_seconds: float
    ) -> None:
        while not stop.is_set():
            try:
                deliveries = await feed.next_batch(self.batch_size, wait_seconds)
                if deliveries:
                    await self.handle(kind, deliveries)
            except Exception:
                # NATS or the broker went away mid-batch: what was not acknowledged comes again.
                log.exception("taking %s messages failed; trying again", kind)
                await first_of(stop, seconds=RETRY_SECONDS)
