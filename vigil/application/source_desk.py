"""The data sources as the API and the console work them: apply YAML documents, read a source's
contract and its history, look at its dead letters and replay them.

Applying is all or nothing: every document of the text is checked before the first is saved, so
a refusal records nothing. Dead letters are shown as intake kept them (personal fields already
tokens), masked further where the install masks fields, and withheld when they are bytes that
were never a record, which intake could not tokenise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import anyio.to_thread

from vigil.application.alert_desk import AlertDesk
from vigil.application.data_sources import (
    SchemaCompiler,
    SourceNotFound,
    apply_source,
    checked_contract,
    find_source,
)
from vigil.application.dead_letters import DeadLetterBox, StoredDeadLetter, replay_dead_letters
from vigil.application.intake import Intake
from vigil.domain.data_source import DataSource
from vigil.domain.errors import DomainError, InvalidCommand
from vigil.domain.personal_data import masked_record
from vigil.domain.source_contract import SourceContract
from vigil.domain.text import bounded_text


class DocumentRefused(DomainError):
    """A source document that cannot be applied: which document of the text, the line (when it
    is known), the field and the reason."""

    def __init__(self, line: int | None, field: str, reason: str, document: int = 1) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{field}: {reason}")
        self.line = line
        self.field = field
        self.reason = reason
        self.document = document


class DeadLettersUnavailable(Exception):
    def __init__(self) -> None:
        super().__init__("the dead letters are unreachable: the server has not connected to NATS")


class PlacedDocument(Protocol):
    """One document of a text, knowing the line that wrote each of its fields."""

    @property
    def body(self) -> Any: ...

    def line_of(self, field: str) -> int | None: ...


class SourceDocuments(Protocol):
    def read(self, text: str) -> Sequence[PlacedDocument]:
        """Every document of the text; DocumentRefused with the line for text that is none."""
        ...

    def write(self, document: Mapping[str, Any]) -> str:
        """The document as text that `read` takes back."""
        ...


@dataclass(frozen=True)
class ContractChange:
    """One version of a source's contract, as its event records it."""

    contract_version: int
    event: str
    actor: str
    at: datetime
    note: str
    contract: Mapping[str, Any]


@dataclass(frozen=True)
class SourceProfile:
    source: DataSource
    history: tuple[ContractChange, ...]
    """Oldest first: the registration, then every change."""

    @property
    def registered_at(self) -> datetime:
        return self.history[0].at

    @property
    def changed_at(self) -> datetime:
        return self.history[-1].at


@dataclass(frozen=True)
class AppliedProfile:
    profile: SourceProfile
    """The source as it stands once the whole text is applied."""
    changed: bool
    """False when the document said what the current version said: nothing was recorded."""


@dataclass(frozen=True)
class ShownDeadLetter:
    sequence: int
    field: str
    reason: str
    stage: str
    origin: str
    stored_at: datetime
    size: int
    """The body's size in bytes, shown or not."""
    body: Mapping[str, Any] | None
    """None when the body is withheld: bytes that were no record, kept as they came."""


@dataclass(frozen=True)
class DeadLetterPage:
    letters: list[ShownDeadLetter]
    has_next_page: bool
    total: int


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: int
    refused_again: int
    remaining: int
    """The source's dead letters after the replay, those refused again included."""


@dataclass
class SourceDesk:
    """The data-source use cases of a server; the dead letters are reachable once `connect`ed."""

    desk: AlertDesk
    documents: SourceDocuments
    compiler: SchemaCompiler
    dead_letter_box: DeadLetterBox | None = None
    replay_intake: Callable[[], Intake] | None = None
    """A fresh intake for each replay, so it checks against the contract applied just now."""

    def connect(self, box: DeadLetterBox, replay_intake: Callable[[], Intake]) -> None:
        self.dead_letter_box, self.replay_intake = box, replay_intake

    def disconnect(self) -> None:
        self.dead_letter_box, self.replay_intake = None, None

    async def apply(
        self, tenant_id: str, actor: str, text: str, note: str = ""
    ) -> list[AppliedProfile]:
        """Registers or changes every source the text describes; DocumentRefused, recording
        nothing, when any document is refused."""
        return await anyio.to_thread.run_sync(self._apply, tenant_id, actor, text, note)

    async def profiles(self, tenant_id: str, names: Sequence[str]) -> list[SourceProfile | None]:
        """Each named source with its history, from the event store in one thread; None for a
        name the tenant has not registered."""
        return await anyio.to_thread.run_sync(self._profiles, tenant_id, names)

    def document_text(self, contract: SourceContract) -> str:
        return self.documents.write(contract.to_document())

    async def dead_letter_counts(self, tenant_id: str, source: str | None = None) -> dict[str, int]:
        return await self._box().count(tenant_id, source)

    async def dead_letters(
        self, tenant_id: str, source: str, after: int, first: int
    ) -> DeadLetterPage:
        box = self._box()
        stored = await box.page(tenant_id, source, after, first + 1)
        total = (await box.count(tenant_id, source)).get(source, 0)
        personal = self.desk.personal_fields_of(source)
        letters = [_shown(letter, personal) for letter in stored[:first]]
        return DeadLetterPage(letters, len(stored) > first, total)

    async def replay(self, tenant_id: str, source: str) -> ReplayOutcome:
        """Replays the source's dead letters through intake; SourceNotFound for a source the
        tenant has not registered."""
        box, intake = self._box(), self.replay_intake
        assert intake is not None, "connected together with the box"
        if await anyio.to_thread.run_sync(self._find, tenant_id, source) is None:
            raise SourceNotFound(source)
        report = await replay_dead_letters(box, intake(), tenant_id, source)
        remaining = (await box.count(tenant_id, source)).get(source, 0)
        return ReplayOutcome(report.replayed, report.refused_again, remaining)

    def _box(self) -> DeadLetterBox:
        if self.dead_letter_box is None:
            raise DeadLettersUnavailable
        return self.dead_letter_box

    def _apply(self, tenant_id: str, actor: str, text: str, note: str) -> list[AppliedProfile]:
        try:
            note = bounded_text("note", note)
        except InvalidCommand as error:
            raise DocumentRefused(None, error.field, error.reason) from None
        documents = self.documents.read(text)
        for number, document in enumerate(documents, 1):
            try:
                checked_contract(self.compiler, document.body)
            except InvalidCommand as error:
                line = document.line_of(error.field)
                raise DocumentRefused(line, error.field, error.reason, number) from None
        applied = [
            apply_source(self.desk, self.compiler, tenant_id, actor, document.body, note)
            for document in documents
        ]
        return [AppliedProfile(self._profile(one.source), one.changed) for one in applied]

    def _profiles(self, tenant_id: str, names: Sequence[str]) -> list[SourceProfile | None]:
        found = [self._find(tenant_id, name) for name in names]
        return [None if source is None else self._profile(source) for source in found]

    def _find(self, tenant_id: str, name: str) -> DataSource | None:
        try:
            return find_source(self.desk, tenant_id, name)
        except InvalidCommand:
            return None  # not a source name, so no source's

    def _profile(self, source: DataSource) -> SourceProfile:
        return SourceProfile(source, tuple(_change(e) for e in self.desk.events.get(source.id)))


def _change(event: object) -> ContractChange:
    if isinstance(event, DataSource.ContractChanged):
        version, contract = event.contract_version, event.contract
    elif isinstance(event, DataSource.Registered):
        version, contract = 1, event.contract
    else:
        raise TypeError(f"{type(event).__name__} is no event of a data source's contract")
    return ContractChange(
        contract_version=version,
        event=type(event).__name__,
        actor=event.actor,
        at=event.timestamp,
        note=event.note,
        contract=contract,
    )


def _shown(stored: StoredDeadLetter, personal: frozenset[str]) -> ShownDeadLetter:
    letter = stored.letter
    return ShownDeadLetter(
        sequence=stored.sequence,
        field=letter.field,
        reason=letter.reason,
        stage=letter.stage,
        origin=letter.origin,
        stored_at=stored.stored_at,
        size=len(letter.body),
        body=_readable(letter.body, personal) if letter.pseudonymised else None,
    )


def _readable(body: bytes, personal: frozenset[str]) -> Mapping[str, Any] | None:
    """A tokenised body as its fields, the install's masked fields masked; a letter refused at
    scoring is a record envelope, whose record is its `data`."""
    try:
        record = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("data"), dict):
        record["data"] = masked_record(record["data"], personal)
    return masked_record(record, personal)
