"""The monitor worker: the SCORED stream into the champion/challenger comparisons."""

from __future__ import annotations

import asyncio
import logging

from vigil.application.model_scores import (
    ComparisonBook,
    ScoredFeed,
    ScoredRecords,
    comparison_counts,
)

log = logging.getLogger("vigil.workers.monitor")

BATCH = 100


class ComparisonFollower:
    """Adds up each message's comparison counts once, in stream order, then acknowledges it."""

    def __init__(self, feed: ScoredFeed, book: ComparisonBook) -> None:
        self.feed = feed
        self.book = book

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        while not stop.is_set():
            await self.follow(wait_seconds)

    async def follow(self, wait_seconds: float) -> int:
        """One batch of messages; how many of them were new."""
        applied = 0
        for message in await self.feed.next_batch(BATCH, wait_seconds):
            try:
                counts = comparison_counts(ScoredRecords.from_json(message.data))
            except (ValueError, KeyError, TypeError):
                # Only score workers write the stream: a message it cannot read is a bug to
                # see in the log, not a reason to stop comparing every later batch.
                log.exception("SCORED message %d is unreadable; skipped", message.position)
                await message.ack()
                continue
            if await self.book.apply(counts, message.position):
                applied += 1
            await message.ack()
        if applied:
            log.info("compared the scores of %d batches", applied)
        return applied
