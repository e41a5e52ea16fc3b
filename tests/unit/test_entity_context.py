"""Entity context: the windows an alert carries about its entity's recent records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil.application.entity_context import Observation, entity_key, observation, summarise

AT = datetime(2018, 4, 2, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def seen(record_id: str, hours_before: float, amount: float) -> Observation:
    return Observation(
        "default/cards/42", record_id, AT.timestamp() - hours_before * HOUR, (amount,)
    )


def test_each_window_counts_and_averages_only_what_falls_inside_it() -> None:
    current = seen("now", 0, 900.0)
    history = [
        seen("last-week", 100, 10.0),
        seen("this-morning", 5, 20.0),
        seen("just-now", 0.5, 30.0),
        current,
    ]
    context = summarise(current, history, ["TX_AMOUNT"])
    assert (context["count_1h"], context["count_24h"], context["count_7d"]) == (2.0, 3.0, 4.0)
    assert context["mean_TX_AMOUNT_1h"] == pytest.approx(465.0)
    assert context["mean_TX_AMOUNT_7d"] == pytest.approx(240.0)
    assert context["max_TX_AMOUNT_24h"] == 900.0


def test_a_record_without_an_entity_or_event_time_has_no_history() -> None:
    record = {"TX_AMOUNT": 5.0}
    assert observation("default", "cards", None, "1", AT, record, ["TX_AMOUNT"]) is None
    assert observation("default", "cards", "42", "1", None, record, ["TX_AMOUNT"]) is None


@pytest.mark.parametrize("value", [None, "5", float("nan"), True])
def test_a_record_whose_values_are_not_finite_numbers_is_not_remembered(value: object) -> None:
    assert (
        observation("default", "cards", "42", "1", AT, {"TX_AMOUNT": value}, ["TX_AMOUNT"]) is None
    )


def test_histories_are_kept_per_tenant_source_and_entity() -> None:
    remembered = observation("acme", "cards", "42", "1", AT, {"TX_AMOUNT": 5}, ["TX_AMOUNT"])
    assert remembered == Observation(entity_key("acme", "cards", "42"), "1", AT.timestamp(), (5.0,))
    assert entity_key("acme", "cards", "42") != entity_key("default", "cards", "42")
