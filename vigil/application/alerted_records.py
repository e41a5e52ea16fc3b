"""The records the score worker observed, read back from the alerts they raised.

An alert keeps its record as it was scored (tokenised, with its entity fields) and its event
time, and its id follows from the record's id and the model line, so a labelled record is found
without a store of its own. The label follower asks here only for the records the window store
keeps no place of (`vigil.application.windowed_records`, asked first): ones observed before the
window store kept places (until their retention has passed, the first weeks after an upgrade)
or whose places were lost with the Redis that held them. A record that raised no alert is not
found this way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio

from vigil.application.alert_desk import AlertDesk
from vigil.application.model_lines import ModelLineDirectory
from vigil.application.records import RecordEnvelope
from vigil.domain.alert import Alert, alert_id


class AlertedRecords:
    """ObservedRecords made of the alerts of the source's model lines, retired ones included."""

    def __init__(self, desk: AlertDesk, lines: ModelLineDirectory) -> None:
        self.desk = desk
        self.lines = lines

    async def envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> Mapping[str, RecordEnvelope]:
        return await anyio.to_thread.run_sync(self._envelopes, tenant_id, source, record_ids)

    def _envelopes(
        self, tenant_id: str, source: str, record_ids: Sequence[str]
    ) -> dict[str, RecordEnvelope]:
        self.lines.refresh()
        names = [line.name for line in self.lines.lines(tenant_id, source)]
        found: dict[str, RecordEnvelope] = {}
        for record_id in record_ids:
            alert = self._first_alert(tenant_id, source, record_id, names)
            if alert is not None:
                found[record_id] = RecordEnvelope(
                    tenant_id=tenant_id,
                    source=source,
                    record_id=record_id,
                    data=dict(alert.record),
                    entity_id=alert.entity_id,
                    occurred_at=alert.occurred_at,
                )
        return found

    def _first_alert(
        self, tenant_id: str, source: str, record_id: str, line_names: Sequence[str]
    ) -> Alert | None:
        # Every line's alert of a record holds the same record as scored: any one will do.
        for name in line_names:
            alert = self.desk.owned(tenant_id, alert_id(tenant_id, source, record_id, name), Alert)
            if alert is not None:
                return alert
        return None
