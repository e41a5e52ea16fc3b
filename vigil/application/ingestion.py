"""Ingesting a file's records: each becomes an envelope on `vigil.records.<source>`.

A row that cannot become an envelope (no record id, a bad event time) goes to the dead-letter
subject with the reason; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigil.application.ports import DeadLetters, RecordPublisher
from vigil.application.records import MalformedRecord, RecordEnvelope

STAGE = "ingest"


@dataclass(frozen=True)
class FileIngestion:
    """How rows of a file map onto envelopes; the source contract takes this over later."""

    tenant_id: str
    source: str
    origin: str
    id_field: str | None = None
    entity_field: str | None = None
    time_field: str | None = None
    dropped: frozenset[str] = frozenset()
    """Columns that never enter the platform, such as a label an analyst must not see."""

    def envelope(self, line: int, row: Mapping[str, Any]) -> RecordEnvelope:
        return RecordEnvelope(
            tenant_id=self.tenant_id,
            source=self.source,
            record_id=self._record_id(line, row),
            data={k: v for k, v in row.items() if k not in self.dropped},
            entity_id=_text(row.get(self.entity_field)) if self.entity_field else None,
            occurred_at=self._occurred_at(row),
        )

    def _record_id(self, line: int, row: Mapping[str, Any]) -> str:
        if self.id_field is None:
            # Without an id column the row's place in its file is its identity.
            return f"{self.origin}:{line}"
        value = _text(row.get(self.id_field))
        if value is None:
            raise MalformedRecord(self.id_field, "the record id is missing")
        return value

    def _occurred_at(self, row: Mapping[str, Any]) -> datetime | None:
        if self.time_field is None:
            return None
        raw = row.get(self.time_field)
        try:
            at = datetime.fromisoformat(str(raw))
        except ValueError:
            raise MalformedRecord(self.time_field, f"not an ISO 8601 time: {raw!r}") from None
        return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class IngestReport:
    published: int = 0
    dead_lettered: int = 0
    seconds: float = 0.0

    @property
    def records_per_s(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0


async def ingest_rows(
    rows: Iterable[Mapping[str, Any]],
    mapping: FileIngestion,
    publisher: RecordPublisher,
    dead_letters: DeadLetters,
    chunk: int = 1000,
    rate: float | None = None,
    progress: Callable[[IngestReport], None] | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> IngestReport:
    """Publishes rows in chunks, at most `rate` records per second when one is given.

    `stopped` is asked between chunks; once it answers yes, what is pending is published and
    the rest of the rows are left unread.
    """
    report = IngestReport()
    started = time.monotonic()
    pending: list[RecordEnvelope] = []
    for line, row in enumerate(rows, start=1):
        if not pending and stopped():
            break
        try:
            pending.append(mapping.envelope(line, row))
        except MalformedRecord as error:
            raw = json.dumps(dict(row), default=str).encode()
            await dead_letters.send(mapping.source, raw, error.field, error.reason, STAGE)
            report.dead_lettered += 1
        if len(pending) >= chunk:
            await _flush(pending, publisher, report, started, rate, progress)
    if pending:
        await _flush(pending, publisher, report, started, rate, progress)
    report.seconds = time.monotonic() - started
    return report


async def _flush(
    pending: list[RecordEnvelope],
    publisher: RecordPublisher,
    report: IngestReport,
    started: float,
    rate: float | None,
    progress: Callable[[IngestReport], None] | None,
) -> None:
    await publisher.publish(pending)
    report.published += len(pending)
    pending.clear()
    report.seconds = time.monotonic() - started
    if rate:
        ahead = report.published / rate - report.seconds
        if ahead > 0:
            await asyncio.sleep(ahead)
    if progress:
        progress(report)


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
