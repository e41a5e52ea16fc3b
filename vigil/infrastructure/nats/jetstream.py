"""Connecting to JetStream and declaring Vigil's streams (DESIGN section 4)."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import NotFoundError

from vigil.infrastructure.settings import NatsSettings

log = logging.getLogger("vigil.nats")

DAY = 24 * 3600.0

DUPLICATE_WINDOW = 120.0
"""How long JetStream remembers a message id: a publisher that retries within it stores once."""


async def connect(settings: NatsSettings, name: str) -> Client:
    """A connection that reconnects by itself; the name shows up in the server's monitoring."""
    return await nats.connect(
        settings.server_url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        error_cb=_log_error,
    )


async def _log_error(error: Exception) -> None:
    # nats-py's default logs a traceback for every failed reconnect attempt.
    log.warning("NATS: %s", error or type(error).__name__)


def stream_configs(settings: NatsSettings) -> list[StreamConfig]:
    """RECORDS, DLQ and SCORED expire by age; DOMAIN is bounded by size only, so its newest
    event, where the relay resumes, is always kept."""

    def stream(name: str, kind: str, max_age: float | None, max_bytes: int | None) -> StreamConfig:
        return StreamConfig(
            name=settings.stream(name),
            subjects=[f"{settings.subject_root}.{kind}.>"],
            max_age=max_age,
            max_bytes=max_bytes,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW,
        )

    return [
        stream("RECORDS", "records", max_age=7 * DAY, max_bytes=None),
        stream("DLQ", "dlq", max_age=30 * DAY, max_bytes=None),
        stream("SCORED", "scored", max_age=7 * DAY, max_bytes=None),
        stream("DOMAIN", "events", max_age=None, max_bytes=settings.domain_stream_bytes),
    ]


async def ensure_streams(js: JetStreamContext, settings: NatsSettings) -> None:
    """Creates the streams that are missing; existing ones keep their messages."""
    for config in stream_configs(settings):
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
