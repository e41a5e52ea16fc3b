"""The composition of the escalate worker (`vigil worker escalate`), beside `vigil.bootstrap`.

Workers may not import adapters or the composition root (import-linter's layers), so the
worker's loop is `vigil.workers.escalate` and this builds what it runs from settings.
"""

from __future__ import annotations

import asyncio

import anyio

from vigil import bootstrap
from vigil.application.escalation_timer import EscalationTimer
from vigil.infrastructure.settings import Settings
from vigil.workers.escalate import BEAT_SECONDS, run_escalation_timer


async def run_escalate_worker(
    settings: Settings, stop: asyncio.Event, beat_seconds: float = BEAT_SECONDS
) -> None:
    """`vigil worker escalate`: records escalation policy steps as they fall due, until `stop`.
    On PostgreSQL the event store's NOTIFY wakes it when anything is saved."""
    desk = await anyio.to_thread.run_sync(bootstrap.build_alert_desk, settings)
    try:
        timer = EscalationTimer(desk)
        listener = bootstrap.event_store_listener(settings, desk)
        await run_escalation_timer(timer, stop, desk.clock, listener, beat_seconds)
    finally:
        desk.close()
