"""The DataSource aggregate: a source's contract as numbered versions, each change on the record.

Applying a document that says what the current version says records nothing, so a deployment
can apply its documents on every start and the log shows only real changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.errors import InvalidCommand
from vigil.domain.source_contract import SourceContract, source_name
from vigil.domain.text import bounded_text, required_text

DATA_SOURCE_NAMESPACE = UUID("6f0d4c52-1b7e-5f3a-9c8d-2e4a6b8c0d1f")


def data_source_id(tenant_id: str, name: str) -> UUID:
    return uuid5(DATA_SOURCE_NAMESPACE, f"{tenant_id}\x1f{source_name('name', name)}")


class DataSource(Aggregate):
    """One tenant's source of records and the contract its records are held to."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class Registered(Event, Aggregate.Created):
        contract: dict[str, Any]
        note: str

    def __init__(self, tenant_id: str, actor: str, contract: dict[str, Any], note: str) -> None:
        self.tenant_id = tenant_id
        self.registered_by = actor
        self.contract = SourceContract.from_document(contract)
        self.contract_version = 1
        self.changed_by = actor

    @classmethod
    def register(
        cls, tenant_id: str, actor: str, at: datetime, contract: SourceContract, note: str = ""
    ) -> DataSource:
        tenant_id = required_text("tenant_id", tenant_id)
        return cls._create(
            cls.Registered,
            id=data_source_id(tenant_id, contract.name),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            contract=contract.to_document(),
            note=bounded_text("note", note),
        )

    @property
    def name(self) -> str:
        return self.contract.name

    def check_same_source(self, contract: SourceContract) -> None:
        if contract.name != self.name:
            raise InvalidCommand("name", f"this source is {self.name!r}, not {contract.name!r}")

    def change(self, actor: str, at: datetime, contract: SourceContract, note: str = "") -> bool:
        """Records the contract as the next version; False, recording nothing, when it is the
        current one already."""
        self.check_same_source(contract)
        if contract.to_document() == self.contract.to_document():
            return False
        self.trigger_event(
            self.ContractChanged,
            tenant_id=self.tenant_id,
            actor=required_text("actor", actor),
            timestamp=at,
            contract=contract.to_document(),
            contract_version=self.contract_version + 1,
            note=bounded_text("note", note),
        )
        return True

    class ContractChanged(Event):
        contract: dict[str, Any]
        contract_version: int
        note: str

        def apply(self, source: DataSource) -> None:
            source.contract = SourceContract.from_document(self.contract)
            source.contract_version = self.contract_version
            source.changed_by = self.actor
