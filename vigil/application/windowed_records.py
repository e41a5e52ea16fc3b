"""The records the label windows observed, read back from where the window store keeps them.

Beside each label history the window store keeps each of its records' event time and entity,
for as long as the history's retention lasts (`vigil.application.features.record_places`), so
a label on a record that raised no alert (a chargeback on a transaction the model let through)
finds its record as well as one that did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import anyio

from vigil.application.features.record_places import RecordPlace, merge_places
from vigil.application.features.windows import WindowStore
from vigil.application.label_follower import LabellingPipelines
from vigil.application.records import RecordEnvelope


class WindowedRecords:
    """ObservedRecords made of the places the window store keeps in the label histories of the
    pipelines a source's models read. An envelope's data is the record's entity of each label
    history's key, all `feed_labels` reads; its event time, from a datetime at intake, is whole
    microseconds, so it comes back through the envelope's datetime unchanged."""

    def __init__(self, store: WindowStore, pipelines: LabellingPipelines) -> None:
        self.store = store
        self.pipelines = pipelines

    async def envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordEnvelope]:
        pipelines = await anyio.to_thread.run_sync(self.pipelines.labelling, tenant_id, source)
        places: dict[str, RecordPlace] = {}
        for pipeline in pipelines:
            merge_places(places, await self.store.places(pipeline, tenant_id, source, record_ids))
        return {
            record_id: RecordEnvelope(
                tenant_id=tenant_id,
                source=source,
                record_id=record_id,
                data=dict(place.entities),
                occurred_at=datetime.fromtimestamp(place.at, UTC),
            )
            for record_id, place in places.items()
        }
