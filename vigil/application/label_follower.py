"""The label follower: record labels from the event log into the online label windows.

It reads the Label events stored after its position (the store filters them by topic), takes
each changed label as it stands now, finds its record as observed (`ObservedRecords`: where the
window store keeps it beside its label histories, whether or not it raised an alert), and sets
the label slots of the record in the label histories of the pipelines the source's models read.
A label on a record the label windows never saw, or older than their retention, is counted as
missed and changes nothing: no window can read it. Setting a slot is idempotent (setting the
same label twice changes nothing), so the position is kept after a batch is fed and a crash in
between only feeds that batch again: at least once is exactly once here. The position lives
beside the histories it describes (in Redis under the window store's prefix; in memory with the
in-process store), so the two are lost or kept together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import anyio
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.features.label_feed import (
    ObservedRecords,
    RecordVerdict,
    feed_labels,
    record_verdict,
)
from vigil.application.features.windows import WindowStore
from vigil.application.records import RecordEnvelope
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.label import Label

READ_AT_ONCE = 500

_TOPICS = [get_topic(Label.Applied), get_topic(Label.Revoked)]


class LabelPosition(Protocol):
    """Where the follower is in the notification log: the id of the last Label event fed."""

    async def read(self) -> int: ...

    async def keep(self, position: int) -> None: ...


class InProcessLabelPosition:
    """Beside the in-process window store, and lost with it."""

    def __init__(self) -> None:
        self.position = 0

    async def read(self) -> int:
        return self.position

    async def keep(self, position: int) -> None:
        self.position = max(self.position, position)


class LabellingPipelines(Protocol):
    """The feature pipelines a source's model versions read that have label windows."""

    def labelling(self, tenant_id: str, source: str) -> Sequence[FeaturePipeline]:
        """Blocking: async callers go through a thread."""
        ...


@dataclass
class LabelsFed:
    """What one catch-up did."""

    position: int
    labels: int = 0
    """Record labels read of sources whose pipelines have label windows."""
    slots_set: int = 0
    """Label slots set, one per (record, label history) that keeps the record."""
    missed: int = 0
    """Labelled records not found among the observed ones: the label windows never saw them
    (and they raised no alert), or they are older than the label histories' retention. One
    found by its alert alone but older than the retention sets no slot either."""


@dataclass(frozen=True)
class _Found:
    """The records found already, as ObservedRecords for `feed_labels`."""

    envelopes_by_id: Mapping[str, RecordEnvelope]

    async def envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordEnvelope]:
        return {i: self.envelopes_by_id[i] for i in record_ids if i in self.envelopes_by_id}


class LabelFollower:
    """Feeds the record labels stored since its position into the window store."""

    def __init__(
        self,
        desk: AlertDesk,
        records: ObservedRecords,
        store: WindowStore,
        pipelines: LabellingPipelines,
        position: LabelPosition,
        read_at_once: int = READ_AT_ONCE,
    ) -> None:
        self.desk = desk
        self.records = records
        self.store = store
        self.pipelines = pipelines
        self.position = position
        self.read_at_once = read_at_once

    async def catch_up(self) -> LabelsFed:
        """Feeds every Label event after the kept position, a batch at a time."""
        fed = LabelsFed(await self.position.read())
        while True:
            notifications = await anyio.to_thread.run_sync(self._after, fed.position)
            if notifications:
                verdicts = await anyio.to_thread.run_sync(self._verdicts, notifications)
                await self._feed(verdicts, fed)
                fed.position = notifications[-1].id
                await self.position.keep(fed.position)
            if len(notifications) < self.read_at_once:
                return fed

    def _after(self, position: int) -> Sequence[Notification]:
        return self.desk.recorder.select_notifications(
            position, self.read_at_once, topics=_TOPICS, inclusive_of_start=False
        )

    def _verdicts(self, notifications: Sequence[Notification]) -> list[RecordVerdict]:
        """Each changed label as it stands now, not as the event left it: a later event of the
        batch, or after it, would only set its slot again."""
        verdicts = []
        for label_id in dict.fromkeys(n.originator_id for n in notifications):
            found: object = self.desk.repository.get(UUID(str(label_id)))
            verdict = record_verdict(found) if isinstance(found, Label) else None
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

    async def _feed(self, verdicts: Sequence[RecordVerdict], fed: LabelsFed) -> None:
        by_source: dict[tuple[str, str], list[RecordVerdict]] = {}
        for verdict in verdicts:
            by_source.setdefault((verdict.tenant_id, verdict.source), []).append(verdict)
        for (tenant_id, source), labelled in by_source.items():
            pipelines = await anyio.to_thread.run_sync(self.pipelines.labelling, tenant_id, source)
            if not pipelines:
                continue
            record_ids = [v.record_id for v in labelled]
            found = await self.records.envelopes(tenant_id, source, record_ids)
            fed.labels += len(labelled)
            fed.missed += sum(1 for record_id in record_ids if record_id not in found)
            fed.slots_set += await feed_labels(labelled, _Found(found), self.store, pipelines)
