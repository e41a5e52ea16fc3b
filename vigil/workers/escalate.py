"""The escalate worker: records each escalation policy step as it falls due.

It sleeps until the earliest step the timer knows of falls due, or until the event log grows
(PostgreSQL's NOTIFY wakes it at once), or for a beat at most: without NOTIFY (SQLite) a new
alert, an acknowledgement or a changed policy is seen within `beat_seconds`. It only records
Escalated events; the relay puts them on the DOMAIN stream and delivery reads them there, so a
receiver that is down never holds it up.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager

import anyio

from vigil.application.escalation_timer import EscalationTimer
from vigil.application.log_arrivals import arrivals, first_of
from vigil.application.ports import Clock

log = logging.getLogger("vigil.workers.escalate")

BEAT_SECONDS = 1.0
"""The longest sleep: how late a change the log did not announce is seen."""
RETRY_SECONDS = 5.0


async def run_escalation_timer(
    timer: EscalationTimer,
    stop: asyncio.Event,
    clock: Clock,
    new_events: AbstractAsyncContextManager[asyncio.Event] | None = None,
    beat_seconds: float = BEAT_SECONDS,
) -> None:
    """Beats until `stop`. A failing beat is logged and tried again; the timer's index is
    rebuilt from the log then, as at a restart."""
    async with arrivals(new_events) as arrived:
        while not stop.is_set():
            arrived.clear()
            try:
                beat = await anyio.to_thread.run_sync(timer.beat)
            except Exception:
                log.exception("escalation beat failed; rebuilding from the log shortly")
                timer.position = None
                await first_of(stop, seconds=RETRY_SECONDS)
                continue
            if beat.escalations:
                log.info("%d escalation steps recorded", beat.escalations)
            await first_of(stop, arrived, seconds=_sleep(timer, clock, beat_seconds))


def _sleep(timer: EscalationTimer, clock: Clock, beat_seconds: float) -> float:
    """Until the next step falls due, a beat at most."""
    next_due_at = timer.next_due_at
    if next_due_at is None:
        return beat_seconds
    return max(0.0, min(beat_seconds, (next_due_at - clock()).total_seconds()))
