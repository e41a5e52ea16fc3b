"""Ports: what the use cases need from the outside, as Protocols that adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from vigil.application.records import RecordEnvelope

Clock = Callable[[], datetime]
"""Tells the time; injected so tests and replays decide what 'now' is."""


def system_clock() -> datetime:
    return datetime.now(UTC)


class Delivery(Protocol):
    """One message handed to a worker; it is acknowledged only after its effect is durable."""

    @property
    def data(self) -> bytes: ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float | None = None) -> None: ...


class RecordFeed(Protocol):
    """A durable consumer of the records stream, shared by every worker that scores."""

    async def next_batch(self, max_records: int, wait_seconds: float) -> Sequence[Delivery]: ...


class RecordPublisher(Protocol):
    """Publishes envelopes to `vigil.records.<source>`; returns once the stream has them all."""

    async def publish(self, envelopes: Sequence[RecordEnvelope]) -> None: ...


class DeadLetters(Protocol):
    """`vigil.dlq.<source>`: where a record that cannot be processed goes, with the reason."""

    async def send(self, source: str, raw: bytes, field: str, reason: str, stage: str) -> None: ...
