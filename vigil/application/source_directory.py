"""Every tenant's data sources, as the ingest worker needs them: which sources there are, and
what each one's current contract says about where its records come from.

The directory follows the event log and reads only the DataSource events stored since its last
look (the store filters them by topic), so looking every few seconds costs one small query
however many alerts the log holds. It needs no read model, and any number of processes can
keep one. It is not the source catalogue read model on purpose: ingestion must capture a new
source's subjects whether or not the projection worker is running or behind, and it needs every
tenant's whole contract, where the catalogue keeps a list's summary rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.log_changes import changed_since
from vigil.domain.data_source import DataSource
from vigil.domain.source_contract import SourceContract

_TOPICS = [get_topic(DataSource.Registered), get_topic(DataSource.ContractChanged)]


@dataclass(frozen=True)
class ListedSource:
    tenant_id: str
    contract: SourceContract
    version: int


class SourceDirectory:
    """Registered sources of all tenants, current as of the last `refresh`."""

    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk
        self.position = 0
        """The notification id of the last DataSource event read."""
        self._sources: dict[UUID, ListedSource] = {}

    def refresh(self) -> Sequence[ListedSource]:
        """Reads what was registered or changed since the last look; every source, oldest
        first. Blocking: async callers go through a thread."""
        self.position, changed = changed_since(self.desk, self.position, _TOPICS, DataSource)
        for source in changed:
            self._sources[source.id] = ListedSource(
                source.tenant_id, source.contract, source.contract_version
            )
        return list(self._sources.values())
