"""The dead letters of a source: what was refused and why, and replaying them once the contract
(or the model) that refused them is fixed.

Replaying takes each letter in turn: one refused at ingest goes through intake again under the
source's current contract; one refused at scoring goes back onto the records stream as it was.
A letter that passes leaves the dead letters; one that fails again is kept with the new reason.

Letters leave only once they are on a stream again, so a replay that stops half-way (between
putting letters back and removing them) loses nothing, and running it again stores nothing twice
as long as it runs within the streams' duplicate window: a record is known by its id, a letter
put back or refused again by the letter it came from. Later than that, a record can be on the
records stream twice (it raises one alert still: alert ids are deterministic) and a letter can
be kept twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vigil.application.intake import STAGE as INGEST_STAGE
from vigil.application.intake import Arrival, Intake
from vigil.application.ports import DeadLetter

REPLAY_PAGE = 500


@dataclass(frozen=True)
class StoredDeadLetter:
    sequence: int
    """Its place in the dead-letter stream: the cursor of a page, the handle to remove it."""
    letter: DeadLetter
    stored_at: datetime


class DeadLetterBox(Protocol):
    """The dead letters as they are kept, per tenant and source."""

    async def count(self, tenant_id: str, source: str | None = None) -> dict[str, int]:
        """How many letters each of the tenant's sources holds (one source, when named)."""
        ...

    async def page(
        self, tenant_id: str, source: str, after: int, first: int
    ) -> list[StoredDeadLetter]:
        """Up to `first` letters stored after sequence `after`, oldest first."""
        ...

    async def newest(self, tenant_id: str, source: str) -> int:
        """The sequence of the source's newest letter; 0 when it has none."""
        ...

    async def remove(self, sequences: Sequence[int]) -> None: ...

    async def resend(self, letter: StoredDeadLetter) -> None:
        """Puts a letter refused at scoring back onto the records stream as it was; the same
        letter put back twice is stored once."""
        ...


@dataclass
class ReplayReport:
    replayed: int = 0
    """Letters that passed and left the dead letters."""
    refused_again: int = 0
    """Letters that failed again; each is kept with the reason it failed now."""


async def replay_dead_letters(
    box: DeadLetterBox, intake: Intake, tenant_id: str, source: str, limit: int | None = None
) -> ReplayReport:
    """Replays the source's letters that are there now, oldest first, up to `limit` of them;
    letters refused again are stored anew, after the ones this replay set out to take."""
    report, after, last = ReplayReport(), 0, await box.newest(tenant_id, source)
    while limit is None or report.replayed + report.refused_again < limit:
        room = REPLAY_PAGE if limit is None else limit - report.replayed - report.refused_again
        page = await box.page(tenant_id, source, after, min(room, REPLAY_PAGE))
        batch = [stored for stored in page if stored.sequence <= last]
        if not batch:
            break
        await _replay(box, intake, tenant_id, source, batch, report)
        after = batch[-1].sequence
    return report


async def _replay(
    box: DeadLetterBox,
    intake: Intake,
    tenant_id: str,
    source: str,
    batch: Sequence[StoredDeadLetter],
    report: ReplayReport,
) -> None:
    at_ingest = [stored for stored in batch if stored.letter.stage == INGEST_STAGE]
    arrivals = [
        Arrival(
            body=stored.letter.body,
            origin=stored.letter.origin,
            # Where it came from is what identified a record that has no id field.
            fallback_id=stored.letter.origin or f"dlq:{stored.sequence}",
            pseudonymised=stored.letter.pseudonymised,
            replay_of=stored.sequence,
        )
        for stored in at_ingest
    ]
    if arrivals:
        outcome = await intake.admit(tenant_id, source, arrivals)
        report.refused_again += outcome.dead_lettered
        report.replayed += outcome.accepted
    for stored in batch:
        if stored.letter.stage != INGEST_STAGE:
            await box.resend(stored)
            report.replayed += 1
    # Every letter of the batch is on a stream again, as a record or as a new letter.
    await box.remove([stored.sequence for stored in batch])
