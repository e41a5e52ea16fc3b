"""The aggregates of one kind that changed since a place in the event log: what the directories
of sources, model lines and training jobs read to keep current without a read model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from uuid import UUID

from vigil.application.alert_desk import AlertDesk

READ_AT_ONCE = 500

Aggregate = TypeVar("Aggregate")


def changed_since(
    desk: AlertDesk, position: int, topics: Sequence[str], kind: type[Aggregate]
) -> tuple[int, list[Aggregate]]:
    """The aggregates of `kind` with an event of `topics` stored after `position`, each once and
    as it stands now, in the order they first changed; and the id of the last event read.
    Blocking: async callers go through a thread."""
    changed: dict[UUID, Aggregate] = {}
    while True:
        notifications = desk.recorder.select_notifications(
            position, READ_AT_ONCE, topics=list(topics), inclusive_of_start=False
        )
        for originator in dict.fromkeys(n.originator_id for n in notifications):
            aggregate_id = UUID(str(originator))
            found: object = desk.repository.get(aggregate_id)
            if isinstance(found, kind):
                changed[aggregate_id] = found
        if notifications:
            position = notifications[-1].id
        if len(notifications) < READ_AT_ONCE:
            return position, list(changed.values())
