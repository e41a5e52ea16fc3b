"""The source catalogue: every data source of a tenant as the lists show it, one read-model row
per source, and the projection that keeps the rows.

A source's whole contract and its history are the event store's (`SourceDesk.profiles`); the
catalogue holds what a list needs, so listing never replays every source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vigil.application.projection import RowChange, RowInsert, RowUpdate
from vigil.domain.data_source import DataSource

DATA_SOURCES = "data_sources"


@dataclass(frozen=True)
class SourceRow:
    tenant_id: str
    name: str
    source_type: str
    description: str
    contract_version: int
    registered_by: str
    registered_at: datetime
    changed_by: str
    changed_at: datetime


class SourceCatalogue(Protocol):
    async def sources(self, tenant_id: str) -> list[SourceRow]:
        """The tenant's sources by name."""
        ...


class SourceCatalogueProjection:
    name = "source_catalogue"
    tables = (DATA_SOURCES,)

    def changes(self, event: object) -> Sequence[RowChange]:
        version = getattr(event, "originator_version", 0)
        match event:
            case DataSource.Registered():
                contract = event.contract
                values = {
                    "tenant_id": event.tenant_id,
                    "name": contract["name"],
                    "source_type": contract["source_type"],
                    "description": contract.get("description", ""),
                    "contract_version": 1,
                    "registered_by": event.actor,
                    "registered_at": event.timestamp,
                    "changed_by": event.actor,
                    "changed_at": event.timestamp,
                }
                return [RowInsert(DATA_SOURCES, event.originator_id, version, values)]
            case DataSource.ContractChanged():
                contract = event.contract
                changed = {
                    "source_type": contract["source_type"],
                    "description": contract.get("description", ""),
                    "contract_version": event.contract_version,
                    "changed_by": event.actor,
                    "changed_at": event.timestamp,
                }
                return [RowUpdate(DATA_SOURCES, event.originator_id, version, version, changed)]
        return []
