"""The Lua script behind `vigil.infrastructure.window_store.RedisWindowStore`: one call observes a
batch of records on their entities' histories and returns their window features.

A history is one Redis string: fixed-size entries back to back, ascending by (event time,
record digest), each the record's event time, its digest
(`vigil.application.features.windows.record_digest`, exact as a double) and its field values,
as little-endian doubles (NaN for a missing value). The script reads each of the batch's keys
once (MGET); then for each record in order it finds where the record goes by binary search on the
event times, read where they lie in the string (`struct.unpack` at an offset, no string per
entry), reads the entries of the widest window that aggregates a field in one unpack, and
computes every feature as `vigil.application.features.windows.window_values` does, in the same
order of operations, so Redis and the in-process store agree to the last bit. A record in
event-time order is appended to the history's tail (what the batch added), one out of order
rewrites the history, a redelivered one (same event time and digest) changes nothing, and one
later than the retention sees only itself and is not kept. At the end each changed key is
written once: APPEND of its tail, or SET, keeping its TTL, when it was rewritten.

A label history (`HistoryLayout.labelled`) has one field, the record's label slot (NaN while
unknown), and answers counts and fraud rates of windows that end its delay before each record;
the label script finds an entry by (event time, digest) with the same binary search and rewrites
its label in place (SETRANGE), so a label arriving later changes nothing else.

For a record a label history keeps, the script also keeps its place in the hash of its ring
slot (the client names the slot: `vigil.application.features.record_places`): it reads once per
call the bucket the hash holds (its field ""), clears the hash when the record's bucket is later
(UNLINK), passes over a record whose bucket is earlier, and sets the batch's places with one HSET
per hash, so a record's place costs it a few strings and no extra call to Redis.

A history is trimmed to its retention before the entity's latest record whenever that latest
record enters a new quarter of the widest window (SET, with the TTL when there is one), so it
holds at most 2.25 widest windows; what lies beyond the retention is never read anyway. Redis
grows an appended string to twice its length, so a history may take up to twice its bytes
until it is next trimmed.

Redis's Lua hashes every byte of each string it makes (a nanosecond or so a byte), so the script
makes few: one per history read, one per record's entry (and three more per place), one per tail
it writes, the reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

from vigil.application.features.windows import HistoryLayout
from vigil.domain.feature_windows import AGGREGATION_CODES, LABEL_AGGREGATION_CODES

OBSERVE = (files("vigil.infrastructure") / "window_observe.lua").read_text(encoding="utf-8")
"""The script; its opening comment says what ARGV holds and what it returns."""
LABEL = (files("vigil.infrastructure") / "window_label.lua").read_text(encoding="utf-8")
"""Sets label slots; its opening comment says what ARGV holds."""


def script_header(layouts: Sequence[HistoryLayout], ttl: int) -> list[str | int]:
    """The script's arguments before the batch, for a pipeline's layouts and a TTL (0: none)."""
    header: list[str | int] = [len(layouts)]
    for layout in layouts:
        kind = 2 if layout.labelled else 1 if layout.since_last is not None else 0
        header += [
            repr(layout.horizon),
            repr(layout.retention),
            len(layout.fields) + (1 if layout.labelled else 0),
            kind,
            len(layout.windows),
            *(repr(w) for w in layout.windows),
            *([repr(layout.delay)] if layout.labelled else []),
            len(layout.outputs),
        ]
        codes: Mapping[Any, int] = LABEL_AGGREGATION_CODES if layout.labelled else AGGREGATION_CODES
        for o in layout.outputs:
            header += [o.window + 1, o.field + 1, codes[o.aggregation]]
    return [*header, ttl]
