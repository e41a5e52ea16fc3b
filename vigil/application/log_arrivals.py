"""Waiting for the event log to grow: a follower sleeps until new events or a stop arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


@asynccontextmanager
async def arrivals(
    listener: AbstractAsyncContextManager[asyncio.Event] | None,
) -> AsyncIterator[asyncio.Event]:
    """The event a listener sets when the log grows; without one, an event nothing sets, so the
    follower falls back to polling."""
    if listener is None:
        yield asyncio.Event()
        return
    async with listener as arrived:
        yield arrived


async def first_of(*events: asyncio.Event, seconds: float) -> None:
    """Returns when one of the events is set, or after `seconds`."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
