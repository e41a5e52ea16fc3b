"""Connecting to JetStream and declaring Vigil's streams (DESIGN section 4)."""

from __future__ import annotations

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from vigil.infrastructure.settings import NatsSettings

DAY = 24 * 3600.0

# stream name -> (subject kind, retention in seconds)
STREAMS: dict[str, tuple[str, float]] = {
    "RECORDS": ("records", 7 * DAY),
    "DLQ": ("dlq", 30 * DAY),
}


async def connect(settings: NatsSettings, name: str) -> Client:
    """A connection that reconnects by itself; the name shows up in the server's monitoring."""
    return await nats.connect(
        settings.server_url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )


async def ensure_streams(js: JetStreamContext, settings: NatsSettings) -> None:
    """Creates the streams that are missing; existing ones keep their messages."""
    for stream, (kind, max_age) in STREAMS.items():
        config = StreamConfig(
            name=settings.stream(stream),
            subjects=[f"{settings.subject_root}.{kind}.>"],
            max_age=max_age,
            duplicate_window=120.0,
        )
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
