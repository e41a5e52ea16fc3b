"""Window features from entity histories in Redis, shared by every worker.

One string per (tenant, source, entity key field, history layout, entity value) holds the
entity's history as fixed-size binary entries; a batch is one call of the script in
`vigil.infrastructure.window_script`, which reads each key once, computes every record's
features exactly as the in-process store does, and writes each changed key once (APPEND in the
common case of records in event-time order). This side only packs the batch, one struct per
(record, layout), and reads the answers back. Labels that arrive later go to a label history by
a second script, which rewrites the label slot of the record's entry in place.

The same script call keeps, for each record a label history keeps, the record's place
(`vigil.application.features.record_places`): in the hash of its event-time bucket, one per
slot of the history's ring, `{prefix}:fr:{tenant}:{source}:{entity key}:{layout}:{0..8}`, field
the record's 8-byte `record_key`, value its event time (a little-endian double) and its entity;
the field `""` names the bucket the hash holds. `places` reads the nine hashes of each label
history in one round trip. A field collision (odds 2**-64 for two records of one bucket) would
give a label the other record's place, whose entry has the same digest.

Every key of a batch goes to one script call, so on Redis Cluster a batch must first be split
by hash slot (not done here).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from vigil.application.features.record_places import (
    RING,
    RecordPlace,
    add_place,
    bucket_number,
    newest_first,
)
from vigil.application.features.windows import (
    HistoryLayout,
    WindowInput,
    history_layouts,
    key_digest,
    record_digest,
    record_key,
)
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_windows import numeric, value_text
from vigil.infrastructure.window_script import LABEL, OBSERVE, script_header

_LABEL_ITEM = struct.Struct("<I4d")
"""A label for the label script: its key's slot, the history's retention, the record's event
time, digest and label."""
_EVENT_TIME = struct.Struct("<d")


class _LayoutFormat:
    """How one layout's items are packed into the script's batch and its answers read from the
    reply."""

    __slots__ = ("answer", "entity_key", "fields", "item", "labelled", "layout", "names", "number")

    def __init__(self, number: int, layout: HistoryLayout) -> None:
        self.number = number
        self.layout = layout
        self.entity_key = layout.entity_key
        self.fields = layout.fields
        self.labelled = layout.labelled
        self.names = layout.names
        doubles = 2 + len(layout.fields) + (1 if layout.labelled else 0)
        place = "II8s" if layout.labelled else ""  # its ring, where the entity starts, its key
        self.item: Callable[..., bytes] = struct.Struct(f"<BI{doubles}d{place}").pack
        self.answer = struct.Struct(f"<{len(layout.names)}d")


class _SourceKeys:
    """Per layout, for one (tenant, source): its histories' key up to the entity and that
    string's length in bytes, and for a label history the key of its ring of places up to the
    slot."""

    __slots__ = ("histories", "offsets", "rings")

    def __init__(self, histories: tuple[str, ...], rings: tuple[str, ...]) -> None:
        self.histories = histories
        self.offsets = tuple(len(root.encode()) for root in histories)
        self.rings = rings


class _Plan:
    """What observing a pipeline's batches needs, worked out once."""

    __slots__ = ("formats", "header", "layouts", "roots")

    def __init__(self, layouts: tuple[HistoryLayout, ...], ttl: int) -> None:
        self.layouts = layouts
        self.header = script_header(layouts, ttl)
        self.formats = tuple(_LayoutFormat(n, layout) for n, layout in enumerate(layouts, start=1))
        self.roots: dict[tuple[str, str], _SourceKeys] = {}


class RedisWindowStore:
    """Every worker sees the same histories. `ttl_seconds`, when set, lets Redis forget an
    entity whose history was not trimmed for that long (wall-clock time; trimming happens at
    least once per quarter of the widest window of the entity's event time while it is active),
    and a bucket of places not written for that long: it bounds memory, at the price of the
    in-process store's exact answers for entities that come back after it."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._script = redis.register_script(OBSERVE)
        self._label_script = redis.register_script(LABEL)
        self._plans: dict[FeaturePipeline, _Plan] = {}

    def key(self, item: WindowInput, layout: HistoryLayout, entity: str) -> str:
        return self._root(item.tenant_id, item.source, layout) + entity

    def _root(self, tenant_id: str, source: str, layout: HistoryLayout) -> str:
        return f"{self.prefix}:fw:{tenant_id}:{source}:{layout.entity_key}:{layout.digest}:"

    def ring_key(self, tenant_id: str, source: str, layout: HistoryLayout, slot: int) -> str:
        """The hash of one bucket of a label history's places (`record_places`)."""
        return f"{self.prefix}:fr:{tenant_id}:{source}:{layout.entity_key}:{layout.digest}:{slot}"

    def _plan(self, pipeline: FeaturePipeline) -> _Plan:
        plan = self._plans.get(pipeline)
        if plan is None:
            layouts = history_layouts(pipeline)
            if len(layouts) > 255:
                raise ValueError("a pipeline aggregates by at most 255 entity keys")
            plan = self._plans[pipeline] = _Plan(layouts, self.ttl_seconds or 0)
        return plan

    async def observe(
        self, pipeline: FeaturePipeline, batch: Sequence[WindowInput]
    ) -> list[dict[str, float | None]]:
        plan = self._plan(pipeline)
        answers: list[dict[str, float | None]] = [
            dict.fromkeys(pipeline.window_feature_names) for _ in batch
        ]
        slots: dict[str, int] = {}
        rings: dict[str, int] = {}
        items, asked = self._items(plan, batch, answers, slots, rings)
        if asked:
            args = [*plan.header, b"".join(items), len(rings)]
            reply = await self._script(keys=[*slots, *rings], args=args)
            _read(reply, asked)
        return answers

    def _items(
        self,
        plan: _Plan,
        batch: Sequence[WindowInput],
        answers: list[dict[str, float | None]],
        slots: dict[str, int],
        rings: dict[str, int],
    ) -> tuple[list[bytes], list[tuple[dict[str, float | None], _LayoutFormat]]]:
        """The batch's items for the script, and per item the answer it fills and its layout;
        the history keys and ring keys they name are numbered in `slots` and `rings`."""
        items: list[bytes] = []
        asked: list[tuple[dict[str, float | None], _LayoutFormat]] = []
        for answer, item in zip(answers, batch, strict=True):
            record, digest = item.record, None
            keys = self._source_keys(plan, item.tenant_id, item.source)
            for n, form in enumerate(plan.formats):
                entity = value_text(record.get(form.entity_key))
                if entity is None:
                    continue
                if digest is None:
                    at, key = float(item.at), record_key(item.record_id)
                    digest = key_digest(key)
                slot = slots.setdefault(keys.histories[n] + entity, len(slots) + 1)
                if form.fields:
                    values = _numbers(form.fields, record)
                    items.append(form.item(form.number, slot, at, digest, *values))
                elif form.labelled:
                    label = math.nan if item.label is None else float(item.label)
                    ring_key = keys.rings[n] + str(bucket_number(form.layout, at) % RING)
                    ring = rings.setdefault(ring_key, len(rings) + 1)
                    offset = keys.offsets[n]
                    items.append(form.item(form.number, slot, at, digest, label, ring, offset, key))
                else:
                    items.append(form.item(form.number, slot, at, digest))
                asked.append((answer, form))
        return items, asked

    def _source_keys(self, plan: _Plan, tenant_id: str, source: str) -> _SourceKeys:
        keys = plan.roots.get((tenant_id, source))
        if keys is None:
            keys = plan.roots[tenant_id, source] = _SourceKeys(
                tuple(self._root(tenant_id, source, layout) for layout in plan.layouts),
                tuple(self.ring_key(tenant_id, source, layout, 0)[:-1] for layout in plan.layouts),
            )
        return keys

    async def places(
        self, pipeline: FeaturePipeline, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordPlace]:
        plan = self._plan(pipeline)
        rings = self._source_keys(plan, tenant_id, source).rings
        layouts = zip(plan.layouts, rings, strict=True)
        labelled = [(layout, ring) for layout, ring in layouts if layout.labelled]
        found: dict[str, RecordPlace] = {}
        if not labelled or not record_ids:
            return found
        fields = [b"", *(record_key(record_id) for record_id in record_ids)]
        async with self.redis.pipeline(transaction=False) as reads:
            for _, ring in labelled:
                for slot in range(RING):
                    reads.hmget(ring + str(slot), fields)
            replies = await reads.execute()
        for n, (layout, _) in enumerate(labelled):
            buckets = replies[n * RING : (n + 1) * RING]
            numbers = [None if held is None else int(held) for held, *_ in buckets]
            for slot in newest_first(numbers):
                for record_id, value in zip(record_ids, buckets[slot][1:], strict=True):
                    if value is not None:
                        (at,) = _EVENT_TIME.unpack_from(value)
                        add_place(found, record_id, at, layout.entity_key, value[8:].decode())
        return found

    async def label(self, pipeline: FeaturePipeline, labelled: Sequence[WindowInput]) -> int:
        plan = self._plan(pipeline)
        slots: dict[str, int] = {}
        items: list[bytes] = []
        for item in labelled:
            label = math.nan if item.label is None else float(item.label)
            roots = self._source_keys(plan, item.tenant_id, item.source).histories
            places = zip(roots, plan.formats, plan.layouts, strict=True)
            for root, form, layout in places:
                entity = value_text(item.record.get(form.entity_key))
                if form.labelled and entity is not None:
                    slot = slots.setdefault(root + entity, len(slots) + 1)
                    at, digest = float(item.at), record_digest(item.record_id)
                    items.append(_LABEL_ITEM.pack(slot, layout.retention, at, digest, label))
        if not items:
            return 0
        size = 8 * 3  # a label history's entry: event time, digest, label
        return int(await self._label_script(keys=list(slots), args=[size, b"".join(items)]))


def _read(reply: bytes, asked: list[tuple[dict[str, float | None], _LayoutFormat]]) -> None:
    """Fills each asked answer from the script's reply, None for NaN."""
    offset = 0
    for answer, form in asked:
        numbers = form.answer.unpack_from(reply, offset)
        offset += form.answer.size
        total = sum(numbers)
        if total == total:  # no NaN among them (the common case)
            answer.update(zip(form.names, numbers, strict=True))
        else:
            answer.update(zip(form.names, (None if v != v else v for v in numbers), strict=True))


def _numbers(fields: tuple[str, ...], record: Mapping[str, Any]) -> list[float]:
    """The entry's field values, NaN where the record has no number."""
    values = []
    for field in fields:
        value = numeric(record.get(field))
        values.append(math.nan if value is None else value)
    return values
