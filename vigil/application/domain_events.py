"""Domain events beyond the event store: notices on the DOMAIN stream and the ports carrying them.

The relay turns each stored event into a notice and publishes it to
`vigil.events.<Aggregate>.<Event>`; subscribers follow the notices of their tenant. A notice is
self-contained JSON, so readers need none of Vigil's event classes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application

from vigil.domain.user import CREDENTIAL_FIELDS

_STAMP = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp", "tenant_id", "actor"}
)
"""What every event carries and a notice names on its own; the rest are the event's fields."""

_NOT_RELAYED = _STAMP | CREDENTIAL_FIELDS
"""Credential hashes stay in the event store: a subscriber needs to know a password changed,
never what it hashes to."""

_JSON_SCALARS = frozenset({str, int, float, bool})


class DomainEventsUnavailable(Exception):
    """The DOMAIN stream cannot be reached, so live updates cannot be followed."""


class RelayInterrupted(Exception):
    """The stream refused or lost part of a batch; the relay resumes from the stream's end."""


@dataclass(frozen=True)
class DomainEventNotice:
    """One stored event as it travels on the DOMAIN stream."""

    notification_id: int
    """Its position in the application's notification log, and its message id on the stream."""
    aggregate: str
    event: str
    aggregate_id: UUID
    version: int
    tenant_id: str
    actor: str
    at: datetime
    data: dict[str, Any]
    """The event's own fields as JSON values (datetimes in ISO 8601, UUIDs and enums as text)."""

    @property
    def subject_suffix(self) -> str:
        """`<Aggregate>.<Event>`, the last two tokens of its subject."""
        return f"{self.aggregate}.{self.event}"


def notice_of(notification_id: int, event: Any) -> DomainEventNotice:
    """The notice of one of Vigil's domain events (each carries `tenant_id` and `actor`)."""
    # Events are nested in their aggregate's class: `Alert.Raised`.
    names = type(event).__qualname__.split(".")
    return DomainEventNotice(
        notification_id=notification_id,
        aggregate=names[0],
        event=names[-1],
        aggregate_id=event.originator_id,
        version=event.originator_version,
        tenant_id=event.tenant_id,
        actor=event.actor,
        at=event.timestamp,
        data={k: json_value(v) for k, v in vars(event).items() if k not in _NOT_RELAYED},
    )


def json_value(value: Any) -> Any:
    if value is None or type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, UUID):
        return str(value)
    return value


def notices_after(app: Application[Any], position: int, limit: int) -> list[DomainEventNotice]:
    """The next notices of the application's log after `position`; synchronous, so call it
    through a thread."""
    notifications = app.recorder.select_notifications(position, limit, inclusive_of_start=False)
    to_event = app.mapper.to_domain_event
    return [notice_of(n.id, to_event(n)) for n in notifications]


class DomainEventPublisher(Protocol):
    """Puts notices on the DOMAIN stream, in order, each once."""

    async def last_published(self) -> int:
        """The notification id of the newest notice on the stream; 0 on an empty stream."""
        ...

    async def publish(self, after: int, notices: Sequence[DomainEventNotice]) -> None:
        """Stores the notices, which follow notification `after`; raises RelayInterrupted when
        the stream did not take them all."""
        ...


class DomainEventFeed(Protocol):
    """Live notices of one tenant, from the moment of following; nothing from before."""

    def follow(
        self, tenant_id: str, aggregate: str, event: str = "*"
    ) -> AbstractAsyncContextManager[AsyncIterator[DomainEventNotice]]:
        """Raises DomainEventsUnavailable when the stream cannot be reached."""
        ...
