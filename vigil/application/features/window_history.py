"""Entity histories in this process's memory: the embedded default's window store, and the one the
offline training matrix is built with, so training sees the features scoring will see."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from vigil.application.features.windows import (
    HistoryLayout,
    Span,
    WindowInput,
    history_layouts,
    window_values,
)
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_windows import value_text


class EntityTimeline:
    """One entity's retained records, ascending by (event time, member), as parallel lists."""

    __slots__ = ("ats", "latest", "members", "present", "values")

    def __init__(self) -> None:
        self.ats: list[float] = []
        self.members: list[bytes] = []
        self.values: list[tuple[float | None, ...]] = []
        self.present: set[bytes] = set()
        self.latest = -math.inf

    def add(self, at: float, member: bytes, values: tuple[float | None, ...]) -> None:
        """Keeps the record unless it is kept already (a redelivery: the same member)."""
        if member in self.present:
            return
        first, last = bisect_left(self.ats, at), bisect_right(self.ats, at)
        place = bisect_left(self.members, member, first, last)
        self.ats.insert(place, at)
        self.members.insert(place, member)
        self.values.insert(place, values)
        self.present.add(member)
        self.latest = max(self.latest, at)

    def span(self, layout: HistoryLayout, at: float, member: bytes) -> Span:
        """What the record kept at `at` sees: the retained entries of its widest window."""
        cut = self.latest - layout.retention
        if at < cut:  # later than the retention: the record sees only itself
            first, last = bisect_left(self.ats, at), bisect_right(self.ats, at)
            place = bisect_left(self.members, member, first, last)
            return Span(self.ats, self.members, self.values, place, place + 1, None)
        low = at - layout.horizon
        end = bisect_right(self.ats, at)
        if cut > low:
            return Span(self.ats, self.members, self.values, bisect_left(self.ats, cut), end, None)
        before = bisect_right(self.ats, low) - 1
        earlier = self.ats[before] if before >= 0 and self.ats[before] >= cut else None
        return Span(self.ats, self.members, self.values, before + 1, end, earlier)

    def forget(self, layout: HistoryLayout) -> None:
        """Drops what no record can see any more: entries older than the retention."""
        cut = bisect_left(self.ats, self.latest - layout.retention)
        self.present.difference_update(self.members[:cut])
        del self.ats[:cut], self.members[:cut], self.values[:cut]


class InProcessWindowStore:
    """Right for one process (the embedded default, training, backtests); lost on restart."""

    def __init__(self) -> None:
        self._timelines: dict[tuple[str, str, str, str, str], EntityTimeline] = {}

    async def observe(
        self, pipeline: FeaturePipeline, batch: Sequence[WindowInput]
    ) -> list[dict[str, float | None]]:
        layouts, names = history_layouts(pipeline), pipeline.window_feature_names
        touched: dict[tuple[str, str, str, str, str], tuple[EntityTimeline, HistoryLayout]] = {}
        answers = []
        for item in batch:
            features: dict[str, float | None] = dict.fromkeys(names)
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
                member, values = layout.member(item.record_id, at, item.record)
                timeline.add(at, member, values)
                span = timeline.span(layout, at, member)
                features.update(
                    zip(layout.names, window_values(layout, span, at, member), strict=True)
                )
            answers.append(features)
        for timeline, layout in touched.values():
            timeline.forget(layout)
        return answers
