"""Intake: every record is checked against its contract and tokenised; nothing is dropped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.builders import T0
from vigil.application.data_sources import CompiledContract, SourceNotFound
from vigil.application.ingestion import BrokenRow, FileIngestion, ingest_rows
from vigil.application.intake import Arrival, Intake
from vigil.application.ports import DeadLetter
from vigil.application.records import RecordEnvelope
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.domain.source_contract import SourceContract
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler

CARDS = {
    "name": "cards",
    "source_type": "rest",
    "config": {
        "record_id": "TRANSACTION_ID",
        "entity": "CUSTOMER_ID",
        "event_time": "TX_DATETIME",
        "drop": ["TX_FRAUD"],
    },
    "schema": {
        "type": "object",
        "required": ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TX_AMOUNT"],
        "additionalProperties": False,
        "properties": {
            "TRANSACTION_ID": {"type": "integer"},
            "TX_DATETIME": {"type": "string"},
            "CUSTOMER_ID": {"type": "integer"},
            "CARDHOLDER": {"type": "string", "maxLength": 40},
            "TX_AMOUNT": {"type": "number", "minimum": 0},
            "TX_FRAUD": {"type": "integer"},
        },
    },
    "pii_fields": ["CUSTOMER_ID", "CARDHOLDER"],
}
ROW: dict[str, Any] = {
    "TRANSACTION_ID": 17,
    "TX_DATETIME": "2018-04-01 00:00:31",
    "CUSTOMER_ID": 596,
    "CARDHOLDER": "Ada Lovelace",
    "TX_AMOUNT": 57.16,
    "TX_FRAUD": 0,
}
KEY = b"k" * 32


class Book:
    """The contract book port holding fixed contracts: intake's own logic is under test."""

    def __init__(self, *documents: dict[str, Any]) -> None:
        compiler = FastJsonSchemaCompiler()
        self.compiled: dict[str, CompiledContract] = {}
        for document in documents:
            contract = SourceContract.from_document(document)
            self.compiled[contract.name] = CompiledContract.of(contract, 1, compiler)

    def contract(self, tenant_id: str, name: str) -> CompiledContract:
        if name not in self.compiled:
            raise SourceNotFound(name)
        return self.compiled[name]


class Streams:
    """The publisher and dead-letter ports, keeping what they were given."""

    def __init__(self) -> None:
        self.envelopes: list[RecordEnvelope] = []
        self.letters: list[DeadLetter] = []

    async def publish(self, envelopes: Sequence[RecordEnvelope]) -> None:
        self.envelopes += envelopes

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        self.letters += letters


@pytest.fixture
def streams() -> Streams:
    return Streams()


@pytest.fixture
def intake(streams: Streams) -> Intake:
    return Intake(Book(CARDS), Pseudonymiser(KEY), streams, streams, clock=lambda: T0)


async def admit_one(intake: Intake, body: bytes | dict[str, Any], tenant: str = "acme") -> None:
    await intake.admit(tenant, "cards", [Arrival(body, "test:1")])


async def test_a_valid_record_goes_out_with_its_id_entity_and_event_time(
    intake: Intake, streams: Streams
) -> None:
    await admit_one(intake, ROW)
    (envelope,) = streams.envelopes
    assert envelope.record_id == "17"
    assert envelope.occurred_at == datetime(2018, 4, 1, 0, 0, 31, tzinfo=UTC)
    assert envelope.entity_id == envelope.data["CUSTOMER_ID"]
    assert envelope.data["TX_AMOUNT"] == 57.16
    assert "TX_FRAUD" not in envelope.data
    assert streams.letters == []


async def test_personal_fields_leave_intake_as_tokens_never_in_clear(
    intake: Intake, streams: Streams
) -> None:
    await admit_one(intake, ROW)
    wire = streams.envelopes[0].to_json().decode()
    assert "596" not in wire.replace('"TRANSACTION_ID":17', "")
    assert "Lovelace" not in wire
    assert streams.envelopes[0].data["CUSTOMER_ID"].startswith("tok_")


async def test_the_same_person_gets_the_same_token_and_another_tenant_a_different_one(
    intake: Intake, streams: Streams
) -> None:
    await admit_one(intake, ROW)
    await admit_one(intake, json.dumps({**ROW, "TRANSACTION_ID": 18}).encode())
    await admit_one(intake, {**ROW, "TRANSACTION_ID": 19}, tenant="globex")
    first, second, elsewhere = (e.entity_id for e in streams.envelopes)
    assert first == second != elsewhere


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({k: v for k, v in ROW.items() if k != "TX_AMOUNT"}, "TX_AMOUNT", "required"),
        ({**ROW, "TX_AMOUNT": "lots"}, "TX_AMOUNT", "must be number"),
        ({**ROW, "TX_AMOUNT": -1}, "TX_AMOUNT", "bigger than or equal to 0"),
        ({**ROW, "SHOE_SIZE": 44}, "SHOE_SIZE", "not a field of the schema"),
        ({**ROW, "CARDHOLDER": "x" * 41}, "CARDHOLDER", "shorter than or equal to 40"),
        ({**ROW, "TX_DATETIME": "yesterday"}, "TX_DATETIME", "not an ISO 8601 time"),
        (b'{"TRANSACTION_ID": 1,', "record", "not JSON"),
        (b"\xff\xfe{}", "record", "not UTF-8"),
        (b"[1, 2]", "record", "must be a JSON object, not array"),
        (json.dumps({**ROW, "CARDHOLDER": "y" * 300_000}).encode(), "record", "the limit is"),
    ],
    ids=[
        "missing",
        "wrong-type",
        "out-of-range",
        "extra",
        "too-long",
        "bad-event-time",
        "malformed-json",
        "bad-encoding",
        "not-an-object",
        "huge",
    ],
)
async def test_a_record_that_breaks_its_contract_is_dead_lettered_with_the_field_and_reason(
    intake: Intake, streams: Streams, body: bytes | dict[str, Any], field: str, reason: str
) -> None:
    await admit_one(intake, body)
    assert streams.envelopes == []
    (letter,) = streams.letters
    assert (letter.field, letter.stage, letter.source, letter.tenant_id) == (
        field,
        "ingest",
        "cards",
        "acme",
    )
    assert reason in letter.reason
    assert letter.origin == "test:1"


async def test_a_refused_record_is_tokenised_in_the_dead_letters_too(
    intake: Intake, streams: Streams
) -> None:
    await admit_one(intake, {**ROW, "TX_AMOUNT": "lots"})
    (letter,) = streams.letters
    assert letter.pseudonymised
    kept = json.loads(letter.body)
    assert kept["CUSTOMER_ID"].startswith("tok_")
    assert "Lovelace" not in letter.body.decode()
    assert kept["TX_AMOUNT"] == "lots"


async def test_one_bad_record_never_holds_back_the_rest_of_its_batch(
    intake: Intake, streams: Streams
) -> None:
    batch = [Arrival({**ROW, "TRANSACTION_ID": n}, f"b:{n}") for n in range(5)]
    batch[2] = Arrival(b"{oops", "b:2")
    report = await intake.admit("acme", "cards", batch)
    assert (report.accepted, report.dead_lettered) == (4, 1)
    assert [index for index, _ in report.violations] == [2]
    assert [e.record_id for e in streams.envelopes] == ["0", "1", "3", "4"]


async def test_a_replayed_dead_letter_is_checked_without_being_tokenised_twice(
    intake: Intake, streams: Streams
) -> None:
    await admit_one(intake, {**ROW, "TX_AMOUNT": "lots"})
    kept = json.loads(streams.letters[0].body)
    fixed = json.dumps({**kept, "TX_AMOUNT": 12.5}).encode()
    await intake.admit("acme", "cards", [Arrival(fixed, "dlq:1", pseudonymised=True)])
    (envelope,) = streams.envelopes
    assert envelope.data["CUSTOMER_ID"] == kept["CUSTOMER_ID"]
    await admit_one(intake, ROW)
    assert streams.envelopes[1].entity_id == envelope.entity_id


async def test_records_of_a_source_that_is_not_registered_are_refused_whole(
    intake: Intake,
) -> None:
    with pytest.raises(SourceNotFound, match="logins"):
        await intake.admit("acme", "logins", [Arrival(ROW, "x")])


async def test_without_an_id_field_a_file_row_is_known_by_its_place_and_a_request_by_its_content(
    streams: Streams,
) -> None:
    anonymous = {**CARDS, "config": {"event_time": "TX_DATETIME"}}
    intake = Intake(Book(anonymous), Pseudonymiser(KEY), streams, streams, clock=lambda: T0)
    await intake.admit("acme", "cards", [Arrival(ROW, "day1.csv:42", fallback_id="day1.csv:42")])
    await intake.admit("acme", "cards", [Arrival(ROW, "rest:a"), Arrival(dict(ROW), "rest:b")])
    placed, sent, resent = streams.envelopes
    assert placed.record_id == "day1.csv:42"
    assert sent.record_id == resent.record_id != placed.record_id


async def test_a_file_is_admitted_in_chunks_and_its_broken_rows_go_to_the_dead_letters(
    intake: Intake, streams: Streams
) -> None:
    rows: list[dict[str, Any] | BrokenRow] = [{**ROW, "TRANSACTION_ID": n} for n in range(2500)]
    rows.insert(1200, BrokenRow(1202, "1,2", "row has 2 fields, the header has 6"))
    file = FileIngestion("acme", "cards", "tx.csv")
    report = await ingest_rows(rows, file, intake, chunk=1000)
    assert (report.read, report.accepted, report.dead_lettered) == (2501, 2500, 1)
    (letter,) = streams.letters
    assert (letter.field, letter.origin, letter.body) == ("record", "tx.csv:line 1202", b"1,2")


async def test_ingest_stops_between_chunks_when_asked_and_loses_nothing_it_read(
    intake: Intake, streams: Streams
) -> None:
    asked = iter([False, False, True])
    rows = [{**ROW, "TRANSACTION_ID": n} for n in range(5000)]
    file = FileIngestion("acme", "cards", "tx.csv")
    report = await ingest_rows(rows, file, intake, chunk=1000, stopped=lambda: next(asked))
    assert report.accepted == len(streams.envelopes) == 2000
