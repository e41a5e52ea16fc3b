"""Labels into the window stores' label histories, as they become known online.

A label reaches Vigil long after its record was scored, as a Label aggregate's event, and names
its record by id alone; a label history finds an entry by the record's entities and event time,
so the records are looked up as they were observed (`ObservedRecords`: first where the window
store keeps them beside its label histories, then by the alerts they raised, as
`vigil.bootstrap_labels` composes them) before their label slots are set. Offline none of this
is needed: the file gives each record's label with the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from vigil.application.features.training import window_input
from vigil.application.features.windows import WindowInput, WindowStore
from vigil.application.records import RecordEnvelope
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.label import Label, SubjectKind, Verdict


@dataclass(frozen=True)
class RecordVerdict:
    """A record's label as label windows count it: 1 fraud, 0 genuine, None no longer known."""

    tenant_id: str
    source: str
    record_id: str
    label: int | None


def record_verdict(label: Label) -> RecordVerdict | None:
    """What a Label aggregate, as its latest event left it, says of its record; None when it
    labels an entity, which label windows do not read."""
    if label.kind is not SubjectKind.RECORD:
        return None
    value = None if label.verdict is None else int(label.verdict is Verdict.FRAUD)
    return RecordVerdict(label.tenant_id, label.source, label.subject_id, value)


class ObservedRecords(Protocol):
    """The records the window stores observed, by id, with the data and event time they had."""

    async def envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordEnvelope]:
        """Those of the ids that are known; the others are left out."""
        ...


class RecordsInTurn:
    """ObservedRecords that asks each of its sources in turn for the records the ones before
    did not find."""

    def __init__(self, *sources: ObservedRecords) -> None:
        self.sources = sources

    async def envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordEnvelope]:
        found: dict[str, RecordEnvelope] = {}
        for records in self.sources:
            wanted = [record_id for record_id in record_ids if record_id not in found]
            if not wanted:
                break
            found.update(await records.envelopes(tenant_id, source, wanted))
        return found


async def feed_labels(
    verdicts: Iterable[RecordVerdict],
    records: ObservedRecords,
    store: WindowStore,
    pipelines: Sequence[FeaturePipeline],
) -> int:
    """Sets each verdict's label slot in the label histories of every pipeline that has label
    windows; of several verdicts on one record, the last stands. A record that is not found,
    or no longer kept, is passed over. Returns how many slots were set."""
    labelling = [p for p in pipelines if p.label_steps]
    if not labelling:
        return 0
    wanted: dict[tuple[str, str], dict[str, int | None]] = {}
    for verdict in verdicts:
        labels = wanted.setdefault((verdict.tenant_id, verdict.source), {})
        labels[verdict.record_id] = verdict.label
    labelled: list[WindowInput] = []
    for (tenant_id, source), labels in wanted.items():
        found = await records.envelopes(tenant_id, source, list(labels))
        for record_id, label in labels.items():
            envelope = found.get(record_id)
            item = None if envelope is None else window_input(envelope, label)
            if item is not None:
                labelled.append(item)
    set_slots = 0
    for pipeline in labelling if labelled else []:
        set_slots += await store.label(pipeline, labelled)
    return set_slots
