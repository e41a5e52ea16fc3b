"""Record envelopes: the contract between intake and scoring on the records stream."""

from __future__ import annotations

import pytest

from tests.builders import card_envelope
from vigil.application.records import MalformedRecord, RecordEnvelope

ROW = {
    "TRANSACTION_ID": 17,
    "CUSTOMER_ID": 596,
    "TX_DATETIME": "2018-04-01 00:00:31",
    "TX_AMOUNT": 57.16,
}


def test_an_envelope_survives_the_wire_unchanged() -> None:
    envelope = card_envelope(ROW)
    assert RecordEnvelope.from_json(envelope.to_json()) == envelope
    assert envelope.message_id == "default:cards:17"


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
