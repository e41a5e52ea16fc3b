"""The SLA worker: at a steady beat, marks overdue cases and hands out what waits in queues."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger("vigil.workers.sla")

Beat = Callable[[], Awaitable[int]]
"""One pass of a timer; returns how many items it acted on."""


async def run_sla_timer(
    beats: Mapping[str, Beat], stop: asyncio.Event, every_seconds: float = 30.0
) -> None:
    """Each beat acts on what is due now; nothing is kept between beats but the log itself, so a
    restart or a second worker loses or doubles nothing. A failing timer is logged and tried
    again at the next beat without holding up the others."""
    while not stop.is_set():
        for name, beat in beats.items():
            try:
                acted = await beat()
            except Exception:
                log.exception("%s failed this beat; trying again at the next", name)
                continue
            if acted:
                log.info("%s: %d", name, acted)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
