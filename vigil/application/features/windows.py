"""Window features: the port to entity histories, and what a history keeps for a pipeline.

A record's window of width w is every record of its entity (same tenant, source, entity key
field and value) with event time in (t - w, t], the record itself included, among the records
seen so far. Values are summed oldest first: ascending event time, then record digest (see
`record_digest`). A history is kept for twice its widest window (the layout's retention) before
the entity's latest record, so a record later than that sees only itself and joins nothing. A
record delivered again (same record id and event time) is kept once, with the fields it first
came with. A record without the entity key (missing, None, empty) gets None for every feature of
that entity, count and time since last included, and joins no history; a field that is missing
or not a number on a record leaves that record out of the field's aggregates (a window without
any value has None for them) but not out of the count.

A label window (`label_window_aggregation`) of width w and delay d holds the entity's records
with event time in (t - d - w, t - d], among the retained ones: the handbook's terminal risk,
whose pandas rolling sums over (t - d - w, t] less those over (t - d, t] come to the same. Its
history, apart from the field windows' ones, keeps per record a label slot: the record's label
when it came with one (offline, from the file), else unknown until `WindowStore.label` sets it.
An unknown label counts as genuine; only the count and the frauds among the count are read.
Online a label names its record by id alone, so beside each label history the stores keep where
its records sit, by id (`WindowStore.places`, `vigil.application.features.record_places`).

Both stores follow `window_values`, the one place the features of a window are computed.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_steps import LabelWindowAggregation, WindowAggregation
from vigil.domain.feature_windows import (
    Aggregation,
    LabelAggregation,
    aggregate,
    fraud_rate,
    numeric,
)

if TYPE_CHECKING:
    from vigil.application.features.record_places import RecordPlace

ENTRY_FORMAT = 2
"""Names how entries are kept (2: event time, record digest, fields): a change starts new
histories instead of misreading old ones."""
DIGEST_BITS = 53
"""A digest is exact as a double, so the Redis store's script compares digests as numbers."""


def record_key(record_id: str) -> bytes:
    """The 64-bit BLAKE2b of the record's id: how the Redis store finds a record's place
    (`RecordPlace`) by id, and the source of its digest."""
    return hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def key_digest(key: bytes) -> int:
    """The digest of the record whose `record_key` this is: its first 53 bits."""
    return int.from_bytes(key, "big") >> (64 - DIGEST_BITS)


def record_digest(record_id: str) -> int:
    """The record's identity in its entities' histories, with its event time, and its place
    among records of the same event time: the first 53 bits of the BLAKE2b of its id. Two
    records of one entity at one event time share a digest with odds of 2**-53, and the later
    one would then be taken for a redelivery of the first."""
    return key_digest(record_key(record_id))


@dataclass(frozen=True)
class WindowInput:
    """One record as the window stores see it."""

    tenant_id: str
    source: str
    record_id: str
    at: float
    """Event time, seconds since the epoch: windows end here, whenever the record arrives."""
    record: Mapping[str, Any]
    """The record's fields, personal ones already tokenised."""
    label: int | None = None
    """1 fraud, 0 genuine, None unknown: what the record's label windows remember of it.
    Offline the file gives it with the record; online it comes later, by `WindowStore.label`."""


class WindowStore(Protocol):
    """Entity histories: in process on the embedded default and offline, in Redis when shared."""

    async def observe(
        self, pipeline: FeaturePipeline, batch: Sequence[WindowInput]
    ) -> list[dict[str, float | None]]:
        """Adds each record to its entities' histories, in order, and returns each one's window
        features, keyed by `pipeline.window_feature_names`."""
        ...

    async def label(self, pipeline: FeaturePipeline, labelled: Sequence[WindowInput]) -> int:
        """Sets each record's label slot in the pipeline's label histories to its `label`
        (None: unknown again, as after a revocation). A record is found by its entities (its
        fields), its event time and its record id, exactly as observed; one that is not or no
        longer kept is passed over. Returns how many slots were set."""
        ...

    async def places(
        self, pipeline: FeaturePipeline, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordPlace]:
        """Where the pipeline's label histories keep those of the records they were observed
        with, by record id, while their retention lasts (see `record_places`); the others are
        left out. What a label naming its record by id alone needs to reach `label`."""
        ...


@dataclass(frozen=True)
class WindowOutput:
    """One aggregate a layout computes: over `windows[window]`, of `fields[field]`."""

    name: str
    window: int
    field: int
    """-1 for count, which reads no field, and for every aggregate of labels."""
    aggregation: Aggregation | LabelAggregation


@dataclass(frozen=True)
class HistoryLayout:
    """What one entity key's history keeps for a pipeline, and the features it answers."""

    entity_key: str
    fields: tuple[str, ...]
    """The numeric fields each entry carries, in this order."""
    windows: tuple[float, ...]
    """Distinct window lengths in seconds, shortest first."""
    outputs: tuple[WindowOutput, ...]
    since_last: str | None
    """The name of the time-since-last feature, when one is asked for."""
    delay: float = 0.0
    """Seconds; above 0 for a label history, whose entries carry a label slot and no fields."""

    @property
    def horizon(self) -> float:
        return self.windows[-1] + self.delay

    @property
    def labelled(self) -> bool:
        return self.delay > 0

    @property
    def retention(self) -> float:
        return 2.0 * self.horizon

    @cached_property
    def names(self) -> tuple[str, ...]:
        names = tuple(o.name for o in self.outputs)
        return (*names, self.since_last) if self.since_last is not None else names

    @cached_property
    def digest(self) -> str:
        """Names the shape of the entries: pipelines that keep the same entries share histories,
        and a pipeline that keeps other ones (or an older entry format) never reads them."""
        parts = [self.entity_key, *self.fields, repr(self.retention), f"entries-v{ENTRY_FORMAT}"]
        if self.labelled:  # field histories keep the digest they always had
            parts.append(f"labels-delayed-{self.delay!r}")
        shape = "\x1f".join(parts)
        return hashlib.sha256(shape.encode()).hexdigest()[:12]

    def values(self, item: WindowInput) -> tuple[float | None, ...]:
        """What the record's entry carries: of each field, None where it has no number; in a
        label history, its label alone."""
        if self.labelled:
            return (None if item.label is None else float(item.label),)
        return tuple(numeric(item.record.get(f)) for f in self.fields)


def history_layouts(pipeline: FeaturePipeline) -> tuple[HistoryLayout, ...]:
    """One layout per entity key, in the order the pipeline first names each."""
    groups: dict[str, list[WindowAggregation]] = {}
    for step in pipeline.window_steps:
        groups.setdefault(step.entity_key, []).append(step)
    delayed: dict[tuple[str, float], list[LabelWindowAggregation]] = {}
    for label_step in pipeline.label_steps:
        delayed.setdefault((label_step.entity_key, label_step.delay.seconds), []).append(label_step)
    return (
        *(_layout(key, steps) for key, steps in groups.items()),
        *(_label_layout(key, delay, steps) for (key, delay), steps in delayed.items()),
    )


def _layout(entity_key: str, steps: list[WindowAggregation]) -> HistoryLayout:
    fields = tuple(dict.fromkeys(s.field for s in steps if s.field is not None))
    windows = tuple(sorted({w.seconds for s in steps for w in s.windows}))
    outputs = tuple(
        WindowOutput(
            s.feature_name(a, w),
            windows.index(w.seconds),
            -1 if a is Aggregation.COUNT or s.field is None else fields.index(s.field),
            a,
        )
        for s in steps
        for a in s.aggregations
        for w in s.windows
    )
    since_last = next((s.time_since_last_name for s in steps if s.time_since_last), None)
    return HistoryLayout(entity_key, fields, windows, outputs, since_last)


def _label_layout(
    entity_key: str, delay: float, steps: list[LabelWindowAggregation]
) -> HistoryLayout:
    windows = tuple(sorted({w.seconds for s in steps for w in s.windows}))
    outputs = tuple(
        WindowOutput(s.feature_name(a, w), windows.index(w.seconds), -1, a)
        for s in steps
        for a in s.aggregations
        for w in s.windows
    )
    return HistoryLayout(entity_key, (), windows, outputs, None, delay)


@dataclass(frozen=True)
class Span:
    """A record's view of its history: entries start..end-1 of the history's parallel lists,
    ascending by (event time, record digest), are the retained ones in its widest window, and
    entry `own` is the record itself."""

    ats: Sequence[float]
    values: Sequence[tuple[float | None, ...]]
    start: int
    end: int
    own: int
    earlier: float | None
    """Event time of the latest retained entry before the span, for time since last."""


def window_values(layout: HistoryLayout, span: Span, at: float) -> list[float | None]:
    """The layout's features for the record at `at`, in `layout.names` order."""
    if layout.labelled:
        return _label_values(layout, span, at)
    starts = [bisect_right(span.ats, at - w, span.start, span.end) for w in layout.windows]
    result: list[float | None] = []
    for output in layout.outputs:
        first = starts[output.window]
        if output.aggregation is Aggregation.COUNT:
            result.append(float(span.end - first))
            continue
        column = (row[output.field] for row in span.values[first : span.end])
        # A field layout's outputs are all Aggregation; only label layouts hold the others.
        kind: Any = output.aggregation
        result.append(aggregate(kind, [v for v in column if v is not None]))
    if layout.since_last is not None:
        result.append(_since_last(span, at))
    return result


def _since_last(span: Span, at: float) -> float | None:
    """From the latest entry of the span but the record itself, or from the one before it."""
    previous = span.end - 1 if span.end - 1 != span.own else span.end - 2
    if previous >= span.start:
        return at - span.ats[previous]
    return None if span.earlier is None else at - span.earlier


def _label_values(layout: HistoryLayout, span: Span, at: float) -> list[float | None]:
    """Counts and fraud rates of the windows ending `layout.delay` before `at`: the span
    reaches back to at - horizon, so each of them lies within it."""
    end = at - layout.delay
    last = bisect_right(span.ats, end, span.start, span.end)
    result: list[float | None] = []
    for output in layout.outputs:
        first = bisect_right(span.ats, end - layout.windows[output.window], span.start, last)
        if output.aggregation is LabelAggregation.COUNT:
            result.append(float(last - first))
        else:
            frauds = sum(1 for (label,) in span.values[first:last] if label == 1.0)
            result.append(fraud_rate(frauds, last - first))
    return result
