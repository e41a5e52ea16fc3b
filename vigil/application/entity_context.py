"""Entity context: what an entity did in the hours and days before one of its records.

Every scored record is remembered in its entity's history (event time, not arrival time); an
alert carries the summary of the windows that end at its record, so the analyst sees at once
whether a customer's 900.00 is their first purchase today or their fortieth. Windows end at the
record's own event time and include it, so late and out-of-order records get the same context
they would have had in order, and a redelivered record is remembered once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

WINDOWS: dict[str, float] = {"1h": 3600.0, "24h": 86_400.0, "7d": 7 * 86_400.0}
HORIZON = max(WINDOWS.values())


@dataclass(frozen=True)
class Observation:
    """One record as its entity's history keeps it."""

    entity_key: str
    record_id: str
    at: float
    """Event time in seconds since the epoch."""
    values: tuple[float, ...]


class EntityHistory(Protocol):
    """Per-entity histories: in process on the embedded default, in Redis when one is configured."""

    async def remember(self, observations: Sequence[Observation]) -> None:
        """Adds every observation to its entity's history; one already there is not added again."""
        ...

    async def recall(self, observations: Sequence[Observation]) -> list[list[Observation]]:
        """Each observation's entity history in (at - HORIZON, at], oldest first."""
        ...


def entity_key(tenant_id: str, source: str, entity_id: str) -> str:
    return f"{tenant_id}/{source}/{entity_id}"


def observation(
    tenant_id: str,
    source: str,
    entity_id: str | None,
    record_id: str,
    occurred_at: datetime | None,
    record: Mapping[str, object],
    fields: Sequence[str],
) -> Observation | None:
    """The record as history keeps it; None when it has no entity, no event time or a bad value."""
    if entity_id is None or occurred_at is None:
        return None
    values = []
    for name in fields:
        value = record.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return None
        values.append(float(value))
    return Observation(
        entity_key(tenant_id, source, entity_id), record_id, occurred_at.timestamp(), tuple(values)
    )


def summarise(
    current: Observation, history: Sequence[Observation], fields: Sequence[str]
) -> dict[str, float]:
    """Count, and mean and max of each field, over every window ending at `current`."""
    context: dict[str, float] = {}
    for window, seconds in WINDOWS.items():
        inside = [o for o in history if current.at - seconds < o.at <= current.at]
        context[f"count_{window}"] = float(len(inside))
        for position, name in enumerate(fields):
            values = [o.values[position] for o in inside]
            context[f"mean_{name}_{window}"] = sum(values) / len(values) if values else 0.0
            context[f"max_{name}_{window}"] = max(values, default=0.0)
    return context
