"""Ingesting a file: its rows go through intake in chunks, at a chosen rate, with progress.

A row the reader could not make a record of (the wrong number of fields, say) arrives as a
`BrokenRow` and goes to the dead letters with its line and reason; the rest of the file goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.application.data_sources import Violation
from vigil.application.intake import Arrival, Intake
from vigil.domain.source_contract import SourceContract


@dataclass(frozen=True)
class BrokenRow:
    """A row of a file that could not be read as a record: kept as text, with the reason."""

    line: int
    text: str
    reason: str


Row = Mapping[str, Any] | BrokenRow

RecordFileReader = Callable[[Path, SourceContract], tuple[Iterable[Row], Callable[[], float]]]
"""Reads a record file under its source's contract: its rows, and how much of it is read."""


@dataclass
class IngestReport:
    read: int = 0
    accepted: int = 0
    dead_lettered: int = 0
    seconds: float = 0.0

    @property
    def records_per_s(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class FileIngestion:
    tenant_id: str
    source: str
    origin: str
    """The file's name: a row's origin and, for a source without an id field, its identity
    (`cards.csv:12`)."""


async def ingest_rows(
    rows: Iterable[Row],
    file: FileIngestion,
    intake: Intake,
    chunk: int = 1000,
    rate: float | None = None,
    progress: Callable[[IngestReport], None] | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> IngestReport:
    """Admits rows in chunks, at most `rate` records per second when one is given.

    `stopped` is asked between chunks; once it answers yes, what is pending is admitted and the
    rest of the rows are left unread.
    """
    report = IngestReport()
    started = time.monotonic()
    pending: list[Arrival] = []
    for number, row in enumerate(rows, start=1):
        if not pending and stopped():
            break
        pending.append(_arrival(file.origin, number, row))
        if len(pending) >= chunk:
            await _admit(pending, file, intake, report, started, rate, progress)
    if pending:
        await _admit(pending, file, intake, report, started, rate, progress)
    report.seconds = time.monotonic() - started
    return report


def row_place(origin: str, number: int) -> str:
    """Where a file's row sits (`cards.csv:12`): its origin and, without an id field, its id."""
    return f"{origin}:{number}"


def _arrival(origin: str, number: int, row: Mapping[str, Any] | BrokenRow) -> Arrival:
    if isinstance(row, BrokenRow):
        where = f"{origin}:line {row.line}"
        return Arrival(row.text.encode(), where, refusal=Violation("record", row.reason))
    where = row_place(origin, number)
    return Arrival(row, where, fallback_id=where)


async def _admit(
    pending: list[Arrival],
    file: FileIngestion,
    intake: Intake,
    report: IngestReport,
    started: float,
    rate: float | None,
    progress: Callable[[IngestReport], None] | None,
) -> None:
    outcome = await intake.admit(file.tenant_id, file.source, pending)
    report.read += len(pending)
    report.accepted += outcome.accepted
    report.dead_lettered += outcome.dead_lettered
    pending.clear()
    report.seconds = time.monotonic() - started
    if rate:
        ahead = report.read / rate - report.seconds
        if ahead > 0:
            await asyncio.sleep(ahead)
    if progress:
        progress(report)
