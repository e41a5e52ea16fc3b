"""Data sources as use cases: apply a contract document, find a source's contract, and the
compiled contracts that ingestion checks every record against.

Sources are saved through the alerts' application, so their changes share the one log that
auditors replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Self

from eventsourcing.persistence import IntegrityError

from vigil.application.alert_desk import AlertDesk
from vigil.domain.data_source import DataSource, data_source_id
from vigil.domain.errors import DomainError
from vigil.domain.source_contract import SourceContract


class SourceNotFound(DomainError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no data source named {name!r} is registered")
        self.name = name


@dataclass(frozen=True)
class Violation:
    """Why a record breaks its contract: the field path (`TX_AMOUNT`, `items[2].sku`, or
    `record` for the whole) and the reason in words."""

    field: str
    reason: str


class RecordValidator(Protocol):
    def __call__(self, record: Mapping[str, Any]) -> Violation | None:
        """None for a record the schema accepts, else the first violation."""
        ...


class SchemaCompiler(Protocol):
    def compile(self, schema: Mapping[str, Any]) -> RecordValidator:
        """A validator for the schema; InvalidCommand naming `schema.<path>` for one that is not
        a valid JSON Schema."""
        ...


@dataclass(frozen=True)
class AppliedSource:
    source: DataSource
    changed: bool
    """False when the document said what the current version says: nothing was recorded."""


def apply_source(
    desk: AlertDesk,
    compiler: SchemaCompiler,
    tenant_id: str,
    actor: str,
    document: Mapping[str, Any],
    note: str = "",
) -> AppliedSource:
    """Registers the source, or records the document as its next contract version."""
    contract = checked_contract(compiler, document)
    source = find_source(desk, tenant_id, contract.name)
    if source is None:
        source = DataSource.register(tenant_id, actor, desk.clock(), contract, note)
        try:
            desk.save(source)
            return AppliedSource(source, changed=True)
        except IntegrityError:
            # Registered by someone else since the lookup: this document changes theirs.
            source = get_source(desk, tenant_id, contract.name)
    changed = source.change(actor, desk.clock(), contract, note)
    if changed:
        desk.save(source)
    return AppliedSource(source, changed)


def checked_contract(compiler: SchemaCompiler, document: Mapping[str, Any]) -> SourceContract:
    """The document's contract, its schema compiled; InvalidCommand naming the field at fault.
    Callers applying several documents check them all first, so a refusal records nothing."""
    contract = SourceContract.from_document(document)
    compiler.compile(contract.schema)
    return contract


def find_source(desk: AlertDesk, tenant_id: str, name: str) -> DataSource | None:
    return desk.owned(tenant_id, data_source_id(tenant_id, name), DataSource)


def get_source(desk: AlertDesk, tenant_id: str, name: str) -> DataSource:
    source = find_source(desk, tenant_id, name)
    if source is None:
        raise SourceNotFound(name)
    return source


@dataclass(frozen=True)
class CompiledContract:
    contract: SourceContract
    version: int
    validate: RecordValidator
    """Checks a record as it arrives, personal values still in clear."""
    validate_pseudonymised: RecordValidator
    """Checks a record whose personal fields are tokens already (a dead letter replayed): the
    personal fields' own rules are waived, their presence where required is not."""

    @classmethod
    def of(cls, contract: SourceContract, version: int, compiler: SchemaCompiler) -> Self:
        waived = {**contract.properties, **{name: {} for name in contract.pii_fields}}
        return cls(
            contract=contract,
            version=version,
            validate=compiler.compile(contract.schema),
            validate_pseudonymised=compiler.compile({**contract.schema, "properties": waived}),
        )


class ContractBook(Protocol):
    def contract(self, tenant_id: str, name: str) -> CompiledContract:
        """The source's compiled contract; SourceNotFound when it is not registered. Blocking:
        async callers go through a thread."""
        ...


class SourceContracts(ContractBook):
    """Each source's current contract compiled, read from the event store at most every
    `refresh_seconds`, so a change reaches every ingest process within that time."""

    def __init__(
        self,
        desk: AlertDesk,
        compiler: SchemaCompiler,
        refresh_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.desk = desk
        self.compiler = compiler
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._known: dict[tuple[str, str], tuple[float, CompiledContract]] = {}

    def contract(self, tenant_id: str, name: str) -> CompiledContract:
        """The source's compiled contract; SourceNotFound when it is not registered."""
        key, now = (tenant_id, name), self._monotonic()
        known = self._known.get(key)
        if known is not None and now - known[0] < self.refresh_seconds:
            return known[1]
        source = get_source(self.desk, tenant_id, name)
        if known is None or known[1].version != source.contract_version:
            compiled = self._compile(source)
        else:
            compiled = known[1]
        self._known[key] = (now, compiled)
        return compiled

    def _compile(self, source: DataSource) -> CompiledContract:
        return CompiledContract.of(source.contract, source.contract_version, self.compiler)
