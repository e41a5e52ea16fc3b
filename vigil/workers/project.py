"""The project worker: keeps the read models current from the event store's notification log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

log = logging.getLogger("vigil.workers.project")


class ReadModelProjector(Protocol):
    """A projection runner (one read of the log for a group of projections), built by the
    composition root from settings."""

    name: str

    async def catch_up(self) -> int: ...

    async def run(self, stop: asyncio.Event, poll_interval: float = ...) -> None: ...


async def run_projection_worker(
    projectors: Sequence[ReadModelProjector],
    upgrade_schema: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    """Migrates the read model, catches every runner up, then follows the log until stopped."""
    await upgrade_schema()
    for projector in projectors:
        caught_up = await projector.catch_up()
        log.info("projection %s caught up with %d events", projector.name, caught_up)
    async with asyncio.TaskGroup() as following:
        for projector in projectors:
            following.create_task(projector.run(stop))
