"""Entity histories in this process's memory: the embedded default's window store, and the one the
offline training matrix is built with, so training sees the features scoring will see. Places of
records in label histories (`record_places`) are kept only when asked for: offline the file gives
every label with its record."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence

from vigil.application.features.record_places import PlaceRing, RecordPlace, add_place
from vigil.application.features.windows import (
    HistoryLayout,
    Span,
    WindowInput,
    history_layouts,
    record_digest,
    window_values,
)
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_windows import value_text


class EntityTimeline:
    """One entity's retained records, ascending by (event time, record digest), as parallel
    lists."""

    __slots__ = ("ats", "digests", "latest", "present", "values")

    def __init__(self) -> None:
        self.ats: list[float] = []
        self.digests: list[int] = []
        self.values: list[tuple[float | None, ...]] = []
        self.present: set[tuple[float, int]] = set()
        self.latest = -math.inf

    def observe(
        self, layout: HistoryLayout, at: float, digest: int, values: tuple[float | None, ...]
    ) -> Span:
        """Keeps the record unless it is kept already (a redelivery) or later than the retention,
        and returns what it sees: the retained entries of its widest window."""
        latest = max(self.latest, at)
        cut = latest - layout.retention
        if at < cut:  # no record will see this one: it sees only itself and joins nothing
            return Span([at], [values], 0, 1, 0, None)
        first, last = bisect_left(self.ats, at), bisect_right(self.ats, at)
        own = bisect_left(self.digests, digest, first, last)
        if (at, digest) not in self.present:
            self.ats.insert(own, at)
            self.digests.insert(own, digest)
            self.values.insert(own, values)
            self.present.add((at, digest))
            self.latest, last = latest, last + 1
        low = at - layout.horizon
        if cut > low:
            return Span(self.ats, self.values, bisect_left(self.ats, cut), last, own, None)
        before = bisect_right(self.ats, low) - 1
        earlier = self.ats[before] if before >= 0 and self.ats[before] >= cut else None
        return Span(self.ats, self.values, before + 1, last, own, earlier)

    def label(self, at: float, digest: int, label: float | None) -> bool:
        """Sets the label slot of the entry (at, digest), when it is kept."""
        first, last = bisect_left(self.ats, at), bisect_right(self.ats, at)
        own = bisect_left(self.digests, digest, first, last)
        if own == last or self.digests[own] != digest:
            return False
        self.values[own] = (label,)
        return True

    def forget(self, layout: HistoryLayout) -> None:
        """Drops what no record can see any more: entries older than the retention."""
        cut = bisect_left(self.ats, self.latest - layout.retention)
        self.present.difference_update(zip(self.ats[:cut], self.digests[:cut], strict=True))
        del self.ats[:cut], self.digests[:cut], self.values[:cut]


class InProcessWindowStore:
    """Right for one process (the embedded default, training, backtests); lost on restart.
    With `keep_places`, it keeps the places of its label histories' records for `places`, as
    the Redis store always does; without, `places` finds none."""

    def __init__(self, keep_places: bool = False) -> None:
        self._timelines: dict[tuple[str, str, str, str, str], EntityTimeline] = {}
        self._rings: dict[tuple[str, str, str, str], PlaceRing] | None = {} if keep_places else None

    async def observe(
        self, pipeline: FeaturePipeline, batch: Sequence[WindowInput]
    ) -> list[dict[str, float | None]]:
        layouts, names = history_layouts(pipeline), pipeline.window_feature_names
        touched: dict[tuple[str, str, str, str, str], tuple[EntityTimeline, HistoryLayout]] = {}
        answers = []
        for item in batch:
            features: dict[str, float | None] = dict.fromkeys(names)
            digest = None
            for layout in layouts:
                entity = value_text(item.record.get(layout.entity_key))
                if entity is None:
                    continue
                key = (item.tenant_id, item.source, layout.entity_key, layout.digest, entity)
                timeline = self._timelines.get(key)
                if timeline is None:
                    timeline = self._timelines[key] = EntityTimeline()
                touched[key] = (timeline, layout)
                at = float(item.at)
                if digest is None:
                    digest = record_digest(item.record_id)
                if layout.labelled and self._rings is not None:
                    self._keep_place(key, layout, timeline, item, at, entity)
                span = timeline.observe(layout, at, digest, layout.values(item))
                features.update(zip(layout.names, window_values(layout, span, at), strict=True))
            answers.append(features)
        for timeline, layout in touched.values():
            timeline.forget(layout)
        return answers

    def _keep_place(
        self,
        key: tuple[str, str, str, str, str],
        layout: HistoryLayout,
        timeline: EntityTimeline,
        item: WindowInput,
        at: float,
        entity: str,
    ) -> None:
        """Keeps the record's place, unless its history will not keep it (later than the
        retention); `timeline` is as it was before the record."""
        if self._rings is None or at < timeline.latest - layout.retention:
            return
        ring = self._rings.get(key[:4])
        if ring is None:
            ring = self._rings[key[:4]] = PlaceRing(layout)
        ring.keep(item.record_id, at, entity)

    async def places(
        self, pipeline: FeaturePipeline, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordPlace]:
        found: dict[str, RecordPlace] = {}
        rings = {} if self._rings is None else self._rings
        for layout in history_layouts(pipeline):
            ring = rings.get((tenant_id, source, layout.entity_key, layout.digest))
            if not layout.labelled or ring is None:
                continue
            for record_id in record_ids:
                place = ring.find(record_id)
                if place is not None:
                    add_place(found, record_id, place[0], layout.entity_key, place[1])
        return found

    async def label(self, pipeline: FeaturePipeline, labelled: Sequence[WindowInput]) -> int:
        layouts = [layout for layout in history_layouts(pipeline) if layout.labelled]
        changed = 0
        for item in labelled:
            for layout in layouts:
                entity = value_text(item.record.get(layout.entity_key))
                key = (item.tenant_id, item.source, layout.entity_key, layout.digest)
                timeline = None if entity is None else self._timelines.get((*key, entity))
                if timeline is not None:
                    label = None if item.label is None else float(item.label)
                    changed += timeline.label(float(item.at), record_digest(item.record_id), label)
        return changed
