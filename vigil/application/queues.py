"""Queues: defining them, "take next", and handing waiting items out to a queue's members.

An item waits in a queue while it is open, unassigned and matches the queue's criteria; the
queue board (a read model) finds the oldest ones, and the event store decides who gets each:
taking or handing out an item assigns it, and the version check on save makes sure that two
analysts, or an analyst and the hand-out timer, never both get the same item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

import anyio
from eventsourcing.persistence import IntegrityError

from vigil.application.casework import Casework
from vigil.domain.alert import Alert
from vigil.domain.case import Case
from vigil.domain.errors import DomainError, InvalidCommand, QueueNotFound
from vigil.domain.queue import Assignment, Queue, QueueCriteria, QueueKind, QueueRules

log = logging.getLogger("vigil.queues")

QUEUE_ACTOR = "system:queues"

TAKE_ATTEMPTS = 20
"""Candidates take-next tries before it reports the queue empty; each loss is a colleague's win."""


@dataclass(frozen=True)
class QueueRow:
    """A queue as the queue board lists it."""

    id: UUID
    tenant_id: str
    name: str
    kind: QueueKind
    criteria: QueueCriteria
    sla_minutes: int
    assignment: Assignment
    members: tuple[str, ...]
    retired: bool

    def due(self, waiting_since: datetime) -> datetime:
        return waiting_since + timedelta(minutes=self.sla_minutes)


@dataclass(frozen=True)
class WaitingItem:
    """An alert or case waiting in a queue, and since when."""

    id: UUID
    waiting_since: datetime


@dataclass(frozen=True)
class TakenItem:
    kind: QueueKind
    id: UUID


@dataclass(frozen=True)
class QueueStats:
    waiting: int
    overdue: int
    oldest_waiting_since: datetime | None


class QueueBoard(Protocol):
    """The queues and what waits in them, from the read model."""

    async def queues(self, tenant_id: str | None) -> list[QueueRow]:
        """A tenant's queues by name; with None, every tenant's, for the hand-out timer."""
        ...

    async def get(self, tenant_id: str, queue_id: UUID) -> QueueRow | None: ...

    async def waiting(self, queue: QueueRow, limit: int) -> list[WaitingItem]:
        """The oldest items waiting in the queue, oldest first."""
        ...

    async def stats(self, queue: QueueRow, now: datetime) -> QueueStats: ...

    async def workloads(self, tenant_id: str, members: tuple[str, ...]) -> dict[str, int]:
        """How many open alerts and cases each of these analysts holds."""
        ...


# Commands on the event store (blocking; call them through a thread) ---------------------------


def define_queue(
    desk: Casework, tenant_id: str, actor: str, name: str, kind: QueueKind, rules: QueueRules
) -> Queue:
    queue = Queue.define(tenant_id, actor, desk.clock(), name, kind, rules)
    taken = InvalidCommand("name", f"a queue named {name.strip()!r} exists already")
    if queue.id in desk.repository:
        raise taken
    try:
        desk.save(queue)
    except IntegrityError:
        raise taken from None  # defined by someone else since the check above
    return queue


def get_queue(desk: Casework, tenant_id: str, queue_id: UUID) -> Queue:
    """The queue as it stands; another tenant's queue answers as not found."""
    queue = desk.owned(tenant_id, queue_id, Queue)
    if queue is None:
        raise QueueNotFound(queue_id)
    return queue


def redefine_queue(
    desk: Casework, tenant_id: str, queue_id: UUID, actor: str, rules: QueueRules
) -> Queue:
    queue = get_queue(desk, tenant_id, queue_id)
    queue.redefine(actor, desk.clock(), rules)
    desk.save(queue)
    return queue


def retire_queue(desk: Casework, tenant_id: str, queue_id: UUID, actor: str, reason: str) -> Queue:
    queue = get_queue(desk, tenant_id, queue_id)
    queue.retire(actor, desk.clock(), reason)
    desk.save(queue)
    return queue


def take_item(desk: Casework, tenant_id: str, kind: QueueKind, item_id: UUID, actor: str) -> None:
    """Assigns the alert or case to the analyst taking it, if nobody has it yet."""
    item = _item(desk, tenant_id, kind, item_id)
    item.take(actor, desk.clock())
    desk.save(item)


def hand_out(
    desk: Casework,
    tenant_id: str,
    queue_id: UUID,
    item_ids: list[UUID],
    workloads: dict[str, int],
) -> dict[UUID, str]:
    """Assigns waiting items to the queue's members and records the hand-out, in one save;
    items someone took since the board listed them are left alone."""
    queue, at = get_queue(desk, tenant_id, queue_id), desk.clock()
    items = [_item(desk, tenant_id, queue.kind, item_id) for item_id in item_ids]
    waiting = {item.id: item for item in items if item.assignee is None and not item.is_closed}
    chosen = queue.hand_out(QUEUE_ACTOR, at, list(waiting), workloads)
    for item_id, member in chosen.items():
        waiting[item_id].assign(QUEUE_ACTOR, at, member)
    desk.save(queue, *waiting.values())
    return chosen


def _item(desk: Casework, tenant_id: str, kind: QueueKind, item_id: UUID) -> Alert | Case:
    if kind is QueueKind.ALERTS:
        return desk.get_alert(tenant_id, item_id)
    return desk.get_case(tenant_id, item_id)


# Use cases over the board and the event store ------------------------------------------------


async def take_next(
    desk: Casework, board: QueueBoard, tenant_id: str, queue_id: UUID, analyst: str
) -> TakenItem | None:
    """Hands the analyst the oldest waiting item of the queue, assigned to them; None when
    nothing waits. A candidate a colleague got first is skipped for the next one."""
    queue = await board.get(tenant_id, queue_id)
    if queue is None or queue.retired:
        raise QueueNotFound(queue_id)
    for candidate in await board.waiting(queue, TAKE_ATTEMPTS):
        try:
            await anyio.to_thread.run_sync(
                take_item, desk, tenant_id, queue.kind, candidate.id, analyst
            )
        except IntegrityError:
            continue  # saved by someone else between our read and our save
        except DomainError as lost:
            log.debug("%s could not take %s: %s", analyst, candidate.id, lost)
            continue  # taken or closed since the board was last projected
        return TakenItem(queue.kind, candidate.id)
    return None


async def hand_out_waiting(desk: Casework, board: QueueBoard, limit: int = 200) -> int:
    """One beat of the hand-out timer: every queue that assigns by itself hands out what waits.
    Holds no state between beats; round-robin's turn is on the queue's own events."""
    handed = 0
    for queue in await board.queues(None):
        if queue.retired or queue.assignment is Assignment.MANUAL:
            continue
        waiting = [item.id for item in await board.waiting(queue, limit)]
        if not waiting:
            continue
        workloads = await board.workloads(queue.tenant_id, queue.members)
        try:
            chosen = await anyio.to_thread.run_sync(
                hand_out, desk, queue.tenant_id, queue.id, waiting, workloads
            )
        except (IntegrityError, DomainError) as skipped:
            # An analyst acted on one of these items meanwhile; the next beat sees the change.
            log.info("queue %s handed nothing out this beat: %s", queue.name, skipped)
            continue
        handed += len(chosen)
    return handed
