"""Intake: every record, whatever brought it, is checked against its source's contract, has its
personal fields replaced by tokens, and goes to `vigil.records.<source>`; a record that fails
goes to the dead letters with the field and the reason. Nothing is dropped, and no personal value
in clear leaves this step: dead letters that could be read as records are tokenised too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from vigil.application import fast_json
from vigil.application.data_sources import CompiledContract, ContractBook, Violation
from vigil.application.ports import Clock, DeadLetter, DeadLetters, RecordPublisher
from vigil.application.records import RecordEnvelope
from vigil.domain.pseudonyms import Pseudonymiser

STAGE = "ingest"
KEPT_OF_HUGE = 64 * 1024
"""How much of a record over the size limit its dead letter keeps, to show what it was."""


@dataclass(frozen=True)
class Arrival:
    """One record as it came in: bytes off the wire, or a row a file reader made."""

    body: bytes | Mapping[str, Any]
    origin: str
    """Where it came from, for the dead letters: `cards.csv:12`, `rest:<request>#3`, a topic."""
    fallback_id: str | None = None
    """The record id when its contract names no id field; unset, the content is the identity."""
    pseudonymised: bool = False
    """A replayed dead letter whose personal fields are tokens already."""
    refusal: Violation | None = None
    """Set when whatever brought it knows already that it is no record (a broken file row)."""
    replay_of: int | None = None
    """The dead letter it is a replay of; a new letter for it names that one."""


@dataclass
class IntakeReport:
    accepted: int = 0
    dead_lettered: int = 0
    violations: list[tuple[int, Violation]] = field(default_factory=list)
    """Each refused arrival's place in the batch and why."""


class Refused(Exception):
    def __init__(self, violation: Violation, record: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{violation.field}: {violation.reason}")
        self.violation = violation
        self.record = record


class Oversized(Refused):
    """Over the size limit: its dead letter keeps only the start of it, tokenised if it reads
    as a record (the body is in memory already, bounded by the request limit)."""


class Admission:
    """What intake does to one record before it travels: checked against its source's contract,
    personal fields tokenised, dropped fields removed, made an envelope. Real-time scoring uses
    it alone: a record scored over the API is checked and tokenised exactly as an ingested one."""

    def __init__(
        self,
        contracts: ContractBook,
        pseudonymiser: Pseudonymiser,
        clock: Clock,
        max_record_bytes: int = 256 * 1024,
    ) -> None:
        self.contracts = contracts
        self.pseudonymiser = pseudonymiser
        self.clock = clock
        self.max_record_bytes = max_record_bytes

    def envelope(
        self, tenant_id: str, compiled: CompiledContract, arrival: Arrival
    ) -> RecordEnvelope:
        """The arrival as a record on its way to scoring, or Refused with the violation."""
        contract = compiled.contract
        if arrival.refusal is not None:
            raise Refused(arrival.refusal)
        record = self._decoded(arrival)
        validate = compiled.validate_pseudonymised if arrival.pseudonymised else compiled.validate
        violation = validate(record)
        if violation is not None:
            raise Refused(violation, record)
        if not arrival.pseudonymised:
            record = self.pseudonymiser.record(tenant_id, record, contract.pii_fields)
        dropped = contract.dropped
        data = {k: v for k, v in record.items() if k not in dropped} if dropped else record
        return RecordEnvelope(
            tenant_id=tenant_id,
            source=contract.name,
            record_id=self._record_id(contract.record_id_field, record, arrival),
            data=data,
            entity_id=identity_text(record.get(contract.entity_field))
            if contract.entity_field
            else None,
            occurred_at=self._occurred_at(contract.event_time_field, record),
        )

    def _decoded(self, arrival: Arrival) -> dict[str, Any]:
        body = arrival.body
        if isinstance(body, Mapping):
            # A row a reader made: its size was bounded where it was read.
            return dict(body)
        if len(body) > self.max_record_bytes:
            raise Oversized(Violation("record", self._too_big(len(body))), _object_in(body))
        try:
            decoded = fast_json.loads(body)
        except UnicodeDecodeError as exc:
            raise Refused(Violation("record", f"not UTF-8: {exc}")) from None
        except json.JSONDecodeError as exc:
            raise Refused(Violation("record", f"not JSON: {exc}")) from None
        if not isinstance(decoded, dict):
            kind = type(decoded).__name__.replace("dict", "object").replace("list", "array")
            raise Refused(Violation("record", f"must be a JSON object, not {kind}"))
        return decoded

    def _too_big(self, size: int) -> str:
        return f"the record is {size:,} bytes; the limit is {self.max_record_bytes:,}"

    def _record_id(self, id_field: str | None, record: Mapping[str, Any], arrival: Arrival) -> str:
        if id_field is None:
            if arrival.fallback_id is not None:
                return arrival.fallback_id
            # No id anywhere: the same content sent twice is the same record.
            return hashlib.sha256(_json(record).encode()).hexdigest()[:32]
        value = identity_text(record.get(id_field))
        if value is None:
            raise Refused(Violation(id_field, "the record id is missing"), record)
        return value

    def _occurred_at(self, time_field: str | None, record: Mapping[str, Any]) -> datetime:
        """The record's event time; without an event-time field, the time it arrived."""
        if time_field is None:
            return self.clock()
        raw = record.get(time_field)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            try:
                return datetime.fromtimestamp(raw, UTC)
            except (OverflowError, OSError, ValueError):
                raise Refused(Violation(time_field, f"{raw} is no time"), record) from None
        try:
            at = datetime.fromisoformat(str(raw))
        except ValueError:
            reason = f"not an ISO 8601 time or epoch seconds: {raw!r}"
            raise Refused(Violation(time_field, reason), record) from None
        return at if at.tzinfo else at.replace(tzinfo=UTC)


class Intake(Admission):
    """Admission, then the batch's valid records onto the records stream and the rest into the
    dead letters."""

    def __init__(
        self,
        contracts: ContractBook,
        pseudonymiser: Pseudonymiser,
        publisher: RecordPublisher,
        dead_letters: DeadLetters,
        clock: Clock,
        max_record_bytes: int = 256 * 1024,
    ) -> None:
        super().__init__(contracts, pseudonymiser, clock, max_record_bytes)
        self.publisher = publisher
        self.dead_letters = dead_letters

    async def admit(self, tenant_id: str, source: str, arrivals: Sequence[Arrival]) -> IntakeReport:
        """Publishes the batch's valid records and dead-letters the rest; returns once both are
        on their streams. SourceNotFound when the source is not registered."""
        compiled = await anyio.to_thread.run_sync(self.contracts.contract, tenant_id, source)
        report = IntakeReport()
        envelopes: list[RecordEnvelope] = []
        letters: list[DeadLetter] = []
        for index, arrival in enumerate(arrivals):
            try:
                envelopes.append(self.envelope(tenant_id, compiled, arrival))
            except Refused as refused:
                letters.append(self._letter(tenant_id, compiled, arrival, refused))
                report.violations.append((index, refused.violation))
        if envelopes:
            await self.publisher.publish(envelopes)
        if letters:
            await self.dead_letters.send(letters)
        report.accepted, report.dead_lettered = len(envelopes), len(letters)
        return report

    def _letter(
        self, tenant_id: str, compiled: CompiledContract, arrival: Arrival, refused: Refused
    ) -> DeadLetter:
        """The refused arrival as a dead letter: tokenised when it could be read as a record."""
        pseudonymised = arrival.pseudonymised
        if refused.record is not None:
            record = refused.record
            if not pseudonymised:
                pii = compiled.contract.pii_fields
                record = self.pseudonymiser.record(tenant_id, record, pii)
            body, pseudonymised = _json(record).encode(), True
            if isinstance(refused, Oversized):
                body = body[:KEPT_OF_HUGE]
        else:
            # Bytes that are not a record: kept as they came, since no field can be found in
            # them to tokenise; only the start of one over the size limit.
            raw = arrival.body
            body = raw[:KEPT_OF_HUGE] if isinstance(raw, bytes) else _json(raw).encode()
        violation = refused.violation
        return DeadLetter(
            tenant_id=tenant_id,
            source=compiled.contract.name,
            body=body,
            field=violation.field,
            reason=violation.reason,
            stage=STAGE,
            origin=arrival.origin,
            pseudonymised=pseudonymised,
            replay_of=arrival.replay_of,
        )


_CANONICAL = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=str)


def _json(value: Mapping[str, Any]) -> str:
    return _CANONICAL.encode(value)


def _object_in(body: bytes) -> dict[str, Any] | None:
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None


def identity_text(value: object) -> str | None:
    """A record id or entity as intake keeps it: the value as text; None when it is missing or
    empty."""
    if value is None or value == "":
        return None
    return str(value)
