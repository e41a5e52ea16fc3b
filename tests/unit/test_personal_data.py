"""Personal fields: masked for everyone, revealed in clear only on the record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import T0, detection
from vigil.domain.alert import Alert
from vigil.domain.errors import InvalidCommand
from vigil.domain.personal_data import MASK, masked, masked_record

PERSONAL = frozenset({"CARD_HOLDER", "CARD_NUMBER"})


@pytest.fixture
def alert_on_a_cardholder() -> Alert:
    record = {"TX_AMOUNT": 12.5, "CARD_HOLDER": "Ada Lovelace", "CARD_NUMBER": "4111111111111111"}
    alert = Alert.raise_from(detection(record=record), actor="system:detector", at=T0)
    alert.collect_events()
    return alert


def test_a_long_value_keeps_only_its_last_four_characters_and_a_short_one_nothing() -> None:
    assert masked("4111111111111111") == MASK + "1111"
    assert masked("Ada") == MASK
    assert masked("Ada Lovelace") == MASK + "lace"
    assert len(masked("a" * 40)) == len(masked("a" * 12)), "the mask hides the length"


def test_a_masked_record_masks_its_personal_fields_only() -> None:
    record = {"TX_AMOUNT": 12.5, "CARD_HOLDER": "Ada", "CARD_NUMBER": None}

    assert masked_record(record, PERSONAL) == {
        "TX_AMOUNT": 12.5,
        "CARD_HOLDER": MASK,
        "CARD_NUMBER": None,
    }


def test_revealing_gives_the_fields_in_clear_and_records_who_which_and_why(
    alert_on_a_cardholder: Alert,
) -> None:
    at = T0 + timedelta(minutes=3)

    values = alert_on_a_cardholder.reveal_personal_data(
        "ann", at, ["CARD_HOLDER"], PERSONAL, "calling the cardholder"
    )

    assert values == {"CARD_HOLDER": "Ada Lovelace"}
    (revealed,) = alert_on_a_cardholder.collect_events()
    assert isinstance(revealed, Alert.PiiRevealed)
    assert (revealed.actor, revealed.timestamp) == ("ann", at)
    assert (revealed.fields, revealed.reason) == (["CARD_HOLDER"], "calling the cardholder")


def test_a_closed_alert_can_still_be_reviewed_in_clear(alert_on_a_cardholder: Alert) -> None:
    alert_on_a_cardholder.resolve("ann", T0, "refund issued")

    values = alert_on_a_cardholder.reveal_personal_data(
        "bob", T0, ["CARD_NUMBER"], PERSONAL, "chargeback filing"
    )

    assert values == {"CARD_NUMBER": "4111111111111111"}


@pytest.mark.parametrize(
    ("fields", "reason", "field_at_fault"),
    [
        (["CARD_HOLDER"], "  ", "reason"),
        ([], "audit", "fields"),
        (["TX_AMOUNT"], "audit", "fields"),
        (["EMAIL"], "audit", "fields"),
    ],
    ids=["no reason", "no field", "a field that is not personal", "a field the record lacks"],
)
def test_a_reveal_needs_a_reason_and_personal_fields_of_the_record_and_records_nothing_else(
    alert_on_a_cardholder: Alert, fields: list[str], reason: str, field_at_fault: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        alert_on_a_cardholder.reveal_personal_data("ann", T0, fields, PERSONAL, reason)

    assert refused.value.field == field_at_fault
    assert alert_on_a_cardholder.collect_events() == []
