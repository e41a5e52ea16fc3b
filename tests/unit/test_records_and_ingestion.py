"""Record envelopes and how file rows become them: the contract between ingest and score."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from tests.builders import CARDS
from vigil.application.ingestion import FileIngestion, ingest_rows
from vigil.application.records import MalformedRecord, RecordEnvelope

ROW = {
    "TRANSACTION_ID": 17,
    "CUSTOMER_ID": 596,
    "TX_DATETIME": "2018-04-01 00:00:31",
    "TX_AMOUNT": 57.16,
}


def test_a_row_becomes_an_envelope_with_its_id_entity_and_event_time() -> None:
    envelope = CARDS.envelope(1, ROW)
    assert (envelope.record_id, envelope.entity_id) == ("17", "596")
    assert envelope.occurred_at == datetime(2018, 4, 1, 0, 0, 31, tzinfo=UTC)
    assert envelope.data == ROW
    assert envelope.message_id == "default:cards:17"


def test_an_envelope_survives_the_wire_unchanged() -> None:
    envelope = CARDS.envelope(1, ROW)
    assert RecordEnvelope.from_json(envelope.to_json()) == envelope


def test_without_an_id_column_the_line_in_the_file_is_the_record_id() -> None:
    anonymous = FileIngestion(tenant_id="default", source="sensors", origin="day1.csv")
    assert anonymous.envelope(42, {"t": 1}).record_id == "day1.csv:42"


def test_a_row_without_its_id_is_refused_naming_the_field() -> None:
    with pytest.raises(MalformedRecord) as caught:
        CARDS.envelope(1, {**ROW, "TRANSACTION_ID": None})
    assert caught.value.field == "TRANSACTION_ID"


def test_a_row_with_a_bad_event_time_is_refused_naming_the_field() -> None:
    with pytest.raises(MalformedRecord) as caught:
        CARDS.envelope(1, {**ROW, "TX_DATETIME": "yesterday"})
    assert caught.value.field == "TX_DATETIME"
    assert "yesterday" in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{oops", "body"),
        (b"[1, 2]", "body"),
        (b'{"tenant_id": "t", "source": "cards", "data": {}}', "record_id"),
        (b'{"tenant_id": "t", "source": "cards", "record_id": "1", "data": []}', "data"),
        (
            b'{"tenant_id": "t", "source": "cards", "record_id": "1", "data": {}, '
            b'"occurred_at": 5}',
            "occurred_at",
        ),
    ],
)
def test_a_message_that_is_not_an_envelope_names_the_field_at_fault(raw: bytes, field: str) -> None:
    with pytest.raises(MalformedRecord) as caught:
        RecordEnvelope.from_json(raw)
    assert caught.value.field == field


def test_dropped_columns_never_enter_the_envelope() -> None:
    without_label = FileIngestion(
        tenant_id="default", source="cards", origin="tx.csv", dropped=frozenset({"TX_FRAUD"})
    )
    assert "TX_FRAUD" not in without_label.envelope(1, {**ROW, "TX_FRAUD": 1}).data


class PublishedRecords:
    """The publisher port, keeping what it was given: ingest's own logic is under test here."""

    def __init__(self) -> None:
        self.envelopes: list[RecordEnvelope] = []
        self.letters: list[tuple[str, str]] = []

    async def publish(self, envelopes: Sequence[RecordEnvelope]) -> None:
        self.envelopes += envelopes

    async def send(self, source: str, raw: bytes, field: str, reason: str, stage: str) -> None:
        self.letters.append((field, stage))


def rows(count: int) -> list[dict[str, object]]:
    return [{**ROW, "TRANSACTION_ID": n} for n in range(count)]


async def test_ingest_publishes_every_row_in_chunks_and_dead_letters_the_bad_ones() -> None:
    sink = PublishedRecords()
    bad = {**ROW, "TRANSACTION_ID": None}
    report = await ingest_rows([*rows(2500), bad], CARDS, sink, sink, chunk=1000)
    assert (report.published, report.dead_lettered) == (2500, 1)
    assert [e.record_id for e in sink.envelopes] == [str(n) for n in range(2500)]
    assert sink.letters == [("TRANSACTION_ID", "ingest")]


async def test_ingest_stops_between_chunks_when_asked_and_loses_nothing_it_read() -> None:
    sink = PublishedRecords()
    asked = iter([False, False, True])
    report = await ingest_rows(
        rows(5000), CARDS, sink, sink, chunk=1000, stopped=lambda: next(asked)
    )
    assert report.published == len(sink.envelopes) == 2000
