"""Intake of a batch of messages off subjects or topics: each goes through intake under the
source it belongs to, or to the dead letters when it belongs to none.

Nothing here acknowledges: the outcome says which messages intake has (published or
dead-lettered, so they may be acknowledged) and which it could not take (to be handed back).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from vigil.application.intake import KEPT_OF_HUGE, STAGE, Arrival, Intake
from vigil.application.ports import DeadLetter, DeadLetters
from vigil.application.source_routes import (
    UNROUTED,
    AddressedDelivery,
    RoutedSource,
    SourceRoutes,
)

log = logging.getLogger("vigil.ingest")


@dataclass
class StreamedBatch:
    taken: list[AddressedDelivery] = field(default_factory=list)
    """Published or dead-lettered: safe to acknowledge."""
    failed: list[AddressedDelivery] = field(default_factory=list)
    """Intake could not take them (the streams or the event store did not answer)."""
    accepted: int = 0
    dead_lettered: int = 0
    unrouted: int = 0


async def admit_streamed(
    deliveries: Sequence[AddressedDelivery],
    routes: SourceRoutes,
    intake: Intake,
    dead_letters: DeadLetters,
) -> StreamedBatch:
    """One intake per source in the batch, and one send of the messages no source takes."""
    outcome = StreamedBatch()
    by_source: dict[RoutedSource, list[AddressedDelivery]] = defaultdict(list)
    letters: list[tuple[AddressedDelivery, DeadLetter]] = []
    kind = routes.kind
    for delivery in deliveries:
        route = routes.route(delivery.address)
        if isinstance(route, RoutedSource):
            by_source[route].append(delivery)
            continue
        letter = DeadLetter(
            tenant_id=route.tenant_id,
            source=UNROUTED,
            # Whose contract it is under is unknown, so it is kept as it came, like any bytes
            # that are not a record.
            body=delivery.data[:KEPT_OF_HUGE],
            field=route.field,
            reason=route.reason,
            stage=STAGE,
            origin=f"{kind}:{delivery.address}",
        )
        letters.append((delivery, letter))
    for source, group in by_source.items():
        await _admit(source, group, kind, intake, outcome)
    if letters:
        await _dead_letter(letters, dead_letters, outcome)
    return outcome


async def _admit(
    source: RoutedSource,
    group: list[AddressedDelivery],
    kind: str,
    intake: Intake,
    outcome: StreamedBatch,
) -> None:
    arrivals = [Arrival(d.data, f"{kind}:{d.address}", d.message_id) for d in group]
    try:
        report = await intake.admit(source.tenant_id, source.name, arrivals)
    except Exception:
        log.exception("intake of %d records of %s failed", len(group), source.name)
        outcome.failed += group
        return
    outcome.taken += group
    outcome.accepted += report.accepted
    outcome.dead_lettered += report.dead_lettered


async def _dead_letter(
    letters: list[tuple[AddressedDelivery, DeadLetter]],
    dead_letters: DeadLetters,
    outcome: StreamedBatch,
) -> None:
    deliveries = [delivery for delivery, _ in letters]
    try:
        await dead_letters.send([letter for _, letter in letters])
    except Exception:
        log.exception("dead-lettering %d messages that no source takes failed", len(letters))
        outcome.failed += deliveries
        return
    outcome.taken += deliveries
    outcome.unrouted += len(letters)
