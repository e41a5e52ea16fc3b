"""Ports: what the use cases need from the outside, as Protocols that adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not be processed, kept with the reason so it can be replayed."""

    tenant_id: str
    source: str
    body: bytes
    field: str
    reason: str
    stage: str
    """Where it was refused: `ingest` (its contract) or `score` (its model)."""
    origin: str = ""
    """Where it came from: a file and line, a request, a topic or subject."""
    pseudonymised: bool = False
    """Whether the body's personal fields are tokens already; a body that could not be read as
    a record is kept as it came."""
    replay_of: int | None = None
    """The stored letter this one was refused again from: a replay run again after stopping
    half-way keeps one letter for it, not two."""


class DeadLetters(Protocol):
    """`vigil.dlq.<source>.<tenant>`: where records that cannot be processed go, with the reason;
    returns once the stream has them all."""

    async def send(self, letters: Sequence[DeadLetter]) -> None: ...
