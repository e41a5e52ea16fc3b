"""Where a record sits in its label histories, kept beside them so that a label naming the record
by id alone finds it, whether or not the record raised an alert.

A label history finds a record's entry by the record's entity (the key of the history), its
event time and its digest; the digest follows from the record id, so a place is the event time
and the entity. The stores keep a place for each record a label history keeps, while observing
it (the Redis store in the same script call), per (tenant, source, label history): pipelines
without label windows keep none, and pipelines that share a label history share its places.

How long, by event time alone (replays of old data keep what a live stream would): places go
in buckets of a quarter of the history's horizon (`bucket_number`), the quarter by which
histories are trimmed, and a history's buckets form a ring of `RING` slots, bucket n in slot
n % RING; a place of a later bucket clears its slot first, and one of an earlier bucket than
its slot holds is not kept. So a place lasts while its record is within the history's
retention (twice the horizon, eight quarters) of the latest event time of the source's records,
and at most a quarter longer: a label matters while a label window can read its record, up to
the horizon (the widest window plus the delay) after it, and the second horizon is the margin
for late labels and late records, as for the entries themselves. A slot of a bucket as old as
RING quarters before the ring's newest, left behind by a gap in the stream, is stale and not
read, and a ring holds RING buckets at most, whatever the stream does.

A place in Redis is a field of the bucket's hash (the record's 8-byte key, the event time and
the entity): MEMORY USAGE of 100,000 of the Fraud Detection Handbook's records gives 76 bytes a
record when the entity is a terminal id (up to 4 digits) and 108 when it is a 36-character token;
the buckets are too large for Redis's compact encoding of small hashes. The label history's own
entry of the record is 24 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vigil.application.features.windows import HistoryLayout

RING = 9
"""Buckets of places per label history: the eight quarters of its retention and the current one."""


def bucket_number(layout: HistoryLayout, at: float) -> int:
    """The bucket of a place at event time `at`: the Redis store's script divides alike."""
    return math.floor(at / (layout.horizon / 4))


def newest_first(numbers: Sequence[int | None]) -> list[int]:
    """The ring's slots whose places are read, newest bucket first, given the bucket each slot
    holds (None: none yet)."""
    held = [(n, slot) for slot, n in enumerate(numbers) if n is not None]
    newest = max((n for n, _ in held), default=0)
    return [slot for n, slot in sorted(held, reverse=True) if n > newest - RING]


@dataclass(frozen=True)
class RecordPlace:
    """A record as its label histories hold it: its event time, and its entity in each history,
    by the history's entity key."""

    at: float
    entities: dict[str, str] = field(default_factory=dict)


def add_place(
    places: dict[str, RecordPlace], record_id: str, at: float, entity_key: str, entity: str
) -> None:
    """Adds one history's place of the record to those found: the first event time found stands
    (a record delivered again with another one is the rare case), as does each key's first
    entity."""
    place = places.get(record_id)
    if place is None:
        places[record_id] = RecordPlace(at, {entity_key: entity})
    else:
        place.entities.setdefault(entity_key, entity)


def merge_places(places: dict[str, RecordPlace], more: Mapping[str, RecordPlace]) -> None:
    for record_id, place in more.items():
        for entity_key, entity in place.entities.items():
            add_place(places, record_id, place.at, entity_key, entity)


class PlaceRing:
    """One label history's places in this process's memory, kept as the Redis store keeps them."""

    __slots__ = ("numbers", "places", "width")

    def __init__(self, layout: HistoryLayout) -> None:
        self.width = layout.horizon / 4
        self.numbers: list[int | None] = [None] * RING
        self.places: list[dict[str, tuple[float, str]]] = [{} for _ in range(RING)]

    def keep(self, record_id: str, at: float, entity: str) -> None:
        number = math.floor(at / self.width)
        slot = number % RING
        held = self.numbers[slot]
        if held is not None and held > number:
            return  # older than the retention: the slot holds a later bucket
        if held != number:
            self.numbers[slot], self.places[slot] = number, {}
        self.places[slot][record_id] = (at, entity)

    def find(self, record_id: str) -> tuple[float, str] | None:
        """The record's event time and entity, from the newest bucket that holds it."""
        for slot in newest_first(self.numbers):
            found = self.places[slot].get(record_id)
            if found is not None:
                return found
        return None
