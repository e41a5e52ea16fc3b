"""The Alert aggregate: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import T0, detection
from vigil.domain.alert import Alert, AlertStatus, Severity, alert_id
from vigil.domain.errors import (
    AlertAlreadyAcknowledged,
    AlertIsClosed,
    AlertIsNotClosed,
    DomainError,
    InvalidCommand,
)


@pytest.fixture
def raised_alert() -> Alert:
    return Alert.raise_from(detection(), actor="system:detector", at=T0)


@pytest.fixture
def resolved_alert(raised_alert: Alert) -> Alert:
    raised_alert.resolve("ann", T0 + timedelta(minutes=5), "refund issued")
    raised_alert.collect_events()
    return raised_alert


def test_raising_an_alert_records_who_when_and_what_was_seen(raised_alert: Alert) -> None:
    (raised,) = raised_alert.collect_events()
    assert isinstance(raised, Alert.Raised)
    assert raised.actor == "system:detector"
    assert raised.timestamp == T0
    assert raised.tenant_id == "default"
    assert raised.score == pytest.approx(0.8125)
    assert raised_alert.status is AlertStatus.OPEN
    assert raised_alert.severity is Severity.HIGH


def test_the_same_record_and_model_line_always_give_the_same_alert_id() -> None:
    assert detection("tx-1").alert_id == detection("tx-1", score=0.99).alert_id
    assert detection("tx-1").alert_id != detection("tx-2").alert_id
    assert detection(tenant_id="a").alert_id != detection(tenant_id="b").alert_id
    assert alert_id("default", "cards", "tx-1", "cards-iforest") == detection("tx-1").alert_id


def test_acknowledging_an_open_alert_records_the_actor_and_the_injected_time(
    raised_alert: Alert,
) -> None:
    raised_alert.collect_events()
    raised_alert.acknowledge("ann", T0 + timedelta(minutes=1), note="on it")
    (event,) = raised_alert.collect_events()
    assert isinstance(event, Alert.Acknowledged)
    assert (event.actor, event.timestamp, event.note) == ("ann", T0 + timedelta(minutes=1), "on it")
    assert event.tenant_id == "default"
    assert raised_alert.status is AlertStatus.ACKNOWLEDGED


def test_an_alert_cannot_be_acknowledged_twice(raised_alert: Alert) -> None:
    raised_alert.acknowledge("ann", T0)
    raised_alert.collect_events()
    with pytest.raises(AlertAlreadyAcknowledged):
        raised_alert.acknowledge("bob", T0)
    assert raised_alert.collect_events() == []


@pytest.mark.parametrize(
    "command",
    [
        lambda a: a.acknowledge("bob", T0),
        lambda a: a.assign("bob", T0, "carol"),
        lambda a: a.comment("bob", T0, "more"),
        lambda a: a.escalate("bob", T0, "large amount"),
        lambda a: a.dismiss("bob", T0, "duplicate"),
        lambda a: a.resolve("bob", T0, "again"),
    ],
    ids=["acknowledge", "assign", "comment", "escalate", "dismiss", "resolve"],
)
def test_a_resolved_alert_accepts_nothing_but_reopen(
    resolved_alert: Alert, command: Callable[[Alert], None]
) -> None:
    with pytest.raises(AlertIsClosed):
        command(resolved_alert)
    assert resolved_alert.collect_events() == []


def test_a_dismissed_alert_reopens_with_a_reason(raised_alert: Alert) -> None:
    raised_alert.dismiss("ann", T0, "known customer")
    raised_alert.reopen("bob", T0 + timedelta(days=1), "chargeback arrived")
    events = raised_alert.collect_events()
    assert [type(e).__name__ for e in events] == ["Raised", "Dismissed", "Reopened"]
    assert raised_alert.status is AlertStatus.OPEN


def test_only_a_closed_alert_can_be_reopened(raised_alert: Alert) -> None:
    with pytest.raises(AlertIsNotClosed):
        raised_alert.reopen("ann", T0, "why not")


def test_assigning_records_the_assignee_and_refuses_a_repeat(raised_alert: Alert) -> None:
    raised_alert.assign("lead", T0, "ann")
    assert raised_alert.assignee == "ann"
    with pytest.raises(InvalidCommand, match="assignee"):
        raised_alert.assign("lead", T0, "ann")


def test_each_escalation_raises_the_level(raised_alert: Alert) -> None:
    raised_alert.escalate("system:escalation", T0, "unacknowledged for 15 minutes")
    raised_alert.escalate("system:escalation", T0, "unacknowledged for 60 minutes")
    assert raised_alert.escalation_level == 2


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_comment_needs_text_and_the_error_names_the_field(
    raised_alert: Alert, blank: str
) -> None:
    with pytest.raises(InvalidCommand) as caught:
        raised_alert.comment("ann", T0, blank)
    assert caught.value.field == "text"


def test_every_command_needs_an_actor(raised_alert: Alert) -> None:
    with pytest.raises(InvalidCommand) as caught:
        raised_alert.acknowledge(" ", T0)
    assert caught.value.field == "actor"


def test_an_acknowledgement_note_is_optional_but_bounded(raised_alert: Alert) -> None:
    with pytest.raises(InvalidCommand) as caught:
        raised_alert.acknowledge("ann", T0, note="x" * 4001)
    assert caught.value.field == "note"
    raised_alert.acknowledge("ann", T0)
    assert raised_alert.status is AlertStatus.ACKNOWLEDGED


# Any sequence of commands either applies or is refused, and replay gives the same state. ---------

ALERT_COMMANDS = st.sampled_from(
    [
        lambda a, t: a.acknowledge("ann", t, "looking"),
        lambda a, t: a.assign("lead", t, "bob"),
        lambda a, t: a.take("carol", t),
        lambda a, t: a.comment("bob", t, "called the cardholder"),
        lambda a, t: a.escalate("bob", t, "large amount"),
        lambda a, t: a.dismiss("bob", t, "known merchant"),
        lambda a, t: a.resolve("bob", t, "refund issued"),
        lambda a, t: a.reopen("lead", t, "chargeback arrived"),
        lambda a, t: a.tag("ann", t, "mule"),
        lambda a, t: a.untag("ann", t, "mule"),
        lambda a, t: a.link_to_case("ann", t, CASE_ID),
        lambda a, t: a.unlink_from_case("ann", t, CASE_ID),
    ]
)
CASE_ID = alert_id("acme", "cases", "case-1", "none")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ALERT_COMMANDS, st.integers(min_value=0, max_value=500)), max_size=25))
def test_any_sequence_of_commands_applies_or_is_refused_and_replays_to_the_same_alert(
    commands: list[tuple[object, int]],
) -> None:
    alert = Alert.raise_from(detection(), actor="system:detector", at=T0)
    recorded = list(alert.collect_events())
    for command, minutes in commands:
        try:
            command(alert, T0 + timedelta(minutes=minutes))  # type: ignore[operator]  # sampled lambdas
        except DomainError:
            assert alert.collect_events() == []  # a refused command records nothing
        else:
            recorded += alert.collect_events()
    replayed: Alert | None = None
    for event in recorded:
        replayed = event.mutate(replayed)
    assert replayed == alert
