"""The label worker: at a steady beat, feeds the labels stored since its last look into the
online label windows, so a record's fraud reaches the windows of the records after it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vigil.application.label_follower import LabelFollower

log = logging.getLogger("vigil.workers.labels")


async def follow_labels(
    follower: LabelFollower, stop: asyncio.Event, every_seconds: float = 2.0
) -> None:
    """Catches up, then waits a beat, until `stop`. A failing catch-up keeps its position and
    is tried again at the next beat."""
    while not stop.is_set():
        try:
            fed = await follower.catch_up()
        except Exception:
            log.exception("feeding labels failed; trying again in %.0f s", every_seconds)
        else:
            if fed.labels:
                log.info(
                    "%d record labels fed: %d label slots set, up to event %d",
                    fed.labels,
                    fed.slots_set,
                    fed.position,
                )
            if fed.missed:
                # Records the label windows never saw (scored before a model read label windows,
                # or never scored) or older than their retention: no window will read them.
                log.warning(
                    "%d labelled records not in the label windows: never seen, or older than"
                    " their retention",
                    fed.missed,
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
