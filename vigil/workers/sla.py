"""The SLA worker: marks overdue cases at a steady beat until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("vigil.workers.sla")


async def run_sla_timer(
    mark_overdue: Callable[[], Awaitable[int]], stop: asyncio.Event, every_seconds: float = 30.0
) -> None:
    """Each beat marks what is overdue now; nothing is kept between beats but the log itself."""
    while not stop.is_set():
        marked = await mark_overdue()
        if marked:
            log.info("marked %d overdue cases", marked)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
