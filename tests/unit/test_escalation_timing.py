"""When escalation steps fall due, read from the alert's events with an injected `now`: which
alerts a policy watches, what stops it, repeats, and that no step is ever due twice."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.builders import T0, detection
from vigil.application.escalation_policies import ESCALATION_ACTOR, due_escalations
from vigil.domain.alert import Alert, Severity
from vigil.domain.errors import InvalidCommand
from vigil.domain.escalation_policy import EscalationPolicy, PolicyDefinition
from vigil.domain.escalation_timing import EscalationTiming, escalation_timing

DEFINED_AT = T0 - timedelta(days=1)

PAGING: dict[str, Any] = {
    "name": "cards-critical",
    "match": {"sources": ["cards"]},
    "steps": [
        {"after": "0m", "notify": ["on-call"]},
        {"after": "15m", "notify": ["team-lead"]},
    ],
}
REPEATING: dict[str, Any] = {
    "name": "cards-high-amount",
    "match": {"severity": ["high"], "record": [{"field": "TX_AMOUNT", "above": 5000}]},
    "steps": [{"after": "30m", "notify": ["fraud-team"], "repeat": {"every": "1h", "times": 3}}],
}


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def policy(
    document: dict[str, Any], tenant_id: str = "default", **changes: Any
) -> EscalationPolicy:
    """A policy defined a day before the alerts are raised, with top-level keys changed."""
    body = {**copy.deepcopy(document), **changes}
    definition = PolicyDefinition.from_document(body)
    return EscalationPolicy.define(tenant_id, "dana", DEFINED_AT, definition)


class Alerted:
    """An alert raised at T0, and its events as everything done to it since leaves them."""

    def __init__(self, **detected: Any) -> None:
        self.alert = Alert.raise_from(detection(**detected), "system:detector", T0)
        self.history: list[Alert.Event] = list(self.alert.collect_events())

    def then(self, command: Callable[[Alert], object]) -> Alerted:
        command(self.alert)
        self.history += self.alert.collect_events()
        return self

    def timing(self, policy: EscalationPolicy, now: datetime) -> EscalationTiming:
        return escalation_timing(policy, self.history, now)

    def escalate_due(self, policy: EscalationPolicy, now: datetime) -> EscalationTiming:
        """Records every due step as the escalation timer does; what was due."""
        timing = self.timing(policy, now)
        for due in timing.due:
            self.then(
                lambda a, due=due: a.escalate(
                    ESCALATION_ACTOR,
                    now,
                    due.reason,
                    policy=due.policy,
                    step_after_minutes=due.step_after_minutes,
                    occurrence=due.occurrence,
                    notify=due.notify,
                )
            )
        return timing


def told(timing: EscalationTiming) -> list[tuple[int, tuple[str, ...]]]:
    return [(due.step, due.notify) for due in timing.due]


# Due steps and the next due time ---------------------------------------------------------------


def test_a_step_at_0m_is_due_as_the_alert_is_raised_and_the_next_says_when() -> None:
    timing = Alerted().timing(policy(PAGING), now=T0)
    assert told(timing) == [(1, ("on-call",))]
    (due,) = timing.due
    assert (due.policy, due.step_after_minutes, due.occurrence, due.due_at) == (
        "cards-critical",
        0,
        1,
        T0,
    )
    assert timing.next_due_at == minutes(15)


def test_nothing_is_due_before_the_first_delay_and_the_next_due_time_says_when() -> None:
    timing = Alerted(record={"TX_AMOUNT": 9000}).timing(policy(REPEATING), now=minutes(10))
    assert timing.due == ()
    assert timing.next_due_at == minutes(30)


def test_a_step_with_an_escalated_event_is_never_due_again() -> None:
    paging, alerted = policy(PAGING), Alerted()
    assert told(alerted.escalate_due(paging, T0)) == [(1, ("on-call",))]
    assert alerted.timing(paging, T0).due == ()
    assert told(alerted.escalate_due(paging, minutes(15))) == [(2, ("team-lead",))]
    for later in (minutes(15), minutes(16), minutes(60 * 24)):
        assert alerted.timing(paging, later) == EscalationTiming((), None)
    assert [e.step_after_minutes for e in alerted.history if isinstance(e, Alert.Escalated)] == [
        0,
        15,
    ]


def test_the_escalated_event_names_the_policy_step_occurrence_and_whom_it_told() -> None:
    alerted = Alerted()
    alerted.escalate_due(policy(PAGING), minutes(1))
    escalated = alerted.history[-1]
    assert isinstance(escalated, Alert.Escalated)
    assert (escalated.policy, escalated.step_after_minutes, escalated.occurrence) == (
        "cards-critical",
        0,
        1,
    )
    assert escalated.notify == ["on-call"]
    assert (escalated.level, escalated.actor) == (1, ESCALATION_ACTOR)
    assert escalated.reason == "policy cards-critical, step 1 (at 0m): notify on-call"


def test_steps_that_fell_due_while_nobody_looked_are_all_due_at_once() -> None:
    timing = Alerted().timing(policy(PAGING), now=minutes(40))
    assert told(timing) == [(1, ("on-call",)), (2, ("team-lead",))]
    assert [due.due_at for due in timing.due] == [T0, minutes(15)]
    assert timing.next_due_at is None


def test_escalations_by_hand_or_by_another_policy_leave_the_steps_due() -> None:
    alerted = Alerted().then(lambda a: a.escalate("bob", T0, "large amount"))
    alerted.escalate_due(policy(PAGING, name="cards-other"), T0)
    assert told(alerted.timing(policy(PAGING), T0)) == [(1, ("on-call",))]


def test_a_step_inserted_before_a_done_one_leaves_the_done_one_done() -> None:
    alerted = Alerted()
    alerted.escalate_due(policy(PAGING), minutes(20))
    first, last = PAGING["steps"]
    steps = [first, {"after": "5m", "notify": ["analysts"]}, last]
    inserted = policy(PAGING, steps=steps)
    timing = alerted.timing(inserted, minutes(21))
    assert [(d.step, d.step_after_minutes) for d in timing.due] == [(2, 5)]


def test_an_escalation_by_a_policy_names_its_step_and_occurrence() -> None:
    alert = Alerted().alert
    with pytest.raises(InvalidCommand) as refused:
        alert.escalate(ESCALATION_ACTOR, T0, "by policy", policy="cards-critical")
    assert refused.value.field == "step"


# Stop conditions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        lambda a: a.acknowledge("ann", minutes(3)),
        lambda a: a.link_to_case("ann", minutes(3), uuid4()),
        lambda a: a.resolve("ann", minutes(3), "refunded"),
        lambda a: a.dismiss("ann", minutes(3), "duplicate"),
    ],
    ids=["acknowledged", "linked_to_case", "resolved", "dismissed"],
)
def test_by_default_a_policy_stops_once_the_alert_is(command: Callable[[Alert], None]) -> None:
    timing = Alerted().then(command).timing(policy(PAGING), minutes(30))
    assert timing == EscalationTiming((), None)


def test_by_default_assigning_an_alert_does_not_stop_its_escalation() -> None:
    alerted = Alerted().then(lambda a: a.assign("ann", minutes(3), "bob"))
    assert told(alerted.timing(policy(PAGING), minutes(3))) == [(1, ("on-call",))]


def test_a_policy_that_stops_on_assignment_stops_once_the_alert_is_assigned() -> None:
    alerted = Alerted().then(lambda a: a.assign("ann", minutes(3), "bob"))
    stopping = policy(PAGING, stop_when=["assigned"])
    assert alerted.timing(stopping, minutes(30)) == EscalationTiming((), None)


def test_an_acknowledgement_stops_nothing_for_a_policy_that_does_not_list_it() -> None:
    alerted = Alerted().then(lambda a: a.acknowledge("ann", minutes(3)))
    assert told(alerted.timing(policy(PAGING, stop_when=["resolved"]), minutes(3))) == [
        (1, ("on-call",))
    ]


def test_a_closed_alert_is_never_due_whatever_the_policy_lists() -> None:
    alerted = Alerted().then(lambda a: a.dismiss("ann", minutes(3), "duplicate"))
    never = policy(PAGING, stop_when=[])
    assert alerted.timing(never, minutes(30)) == EscalationTiming((), None)


def test_an_alert_unlinked_from_its_case_escalates_again() -> None:
    case_id = uuid4()
    alerted = Alerted().then(lambda a: a.link_to_case("ann", minutes(1), case_id))
    alerted.then(lambda a: a.unlink_from_case("ann", minutes(2), case_id))
    assert told(alerted.timing(policy(PAGING), minutes(3))) == [(1, ("on-call",))]


def test_a_reopened_alert_escalates_afresh_from_its_reopening() -> None:
    paging, alerted = policy(PAGING), Alerted()
    alerted.escalate_due(paging, T0)
    alerted.then(lambda a: a.resolve("ann", minutes(5), "refunded"))
    alerted.then(lambda a: a.reopen("ann", minutes(60), "chargeback came in"))
    timing = alerted.timing(paging, minutes(60))
    (again,) = timing.due
    assert (again.step, again.occurrence, again.repeat, again.due_at) == (1, 2, 0, minutes(60))
    assert timing.next_due_at == minutes(75)


# Repeats ----------------------------------------------------------------------------------------


def test_a_repeating_step_repeats_every_interval_after_its_last_notification() -> None:
    repeating, alerted = policy(REPEATING), Alerted(record={"TX_AMOUNT": 9000})
    first = alerted.escalate_due(repeating, minutes(35))
    assert [(d.occurrence, d.repeat) for d in first.due] == [(1, 0)]
    assert alerted.timing(repeating, minutes(35)).next_due_at == minutes(95)
    assert alerted.timing(repeating, minutes(94)).due == ()
    second = alerted.escalate_due(repeating, minutes(95))
    assert [(d.occurrence, d.repeat, d.due_at) for d in second.due] == [(2, 1, minutes(95))]
    assert second.due[0].reason.endswith(", repeat 1")


def test_a_repeating_step_stops_after_its_repeats() -> None:
    repeating, alerted = policy(REPEATING), Alerted(record={"TX_AMOUNT": 9000})
    sent = [alerted.escalate_due(repeating, minutes(30 + 60 * n)) for n in range(4)]
    assert [len(timing.due) for timing in sent] == [1, 1, 1, 1]
    assert alerted.timing(repeating, minutes(60 * 24)) == EscalationTiming((), None)
    escalated = [e for e in alerted.history if isinstance(e, Alert.Escalated)]
    assert [e.occurrence for e in escalated] == [1, 2, 3, 4]


def test_a_late_timer_sends_one_repeat_not_a_burst() -> None:
    repeating, alerted = policy(REPEATING), Alerted(record={"TX_AMOUNT": 9000})
    alerted.escalate_due(repeating, minutes(30))
    late = alerted.escalate_due(repeating, minutes(60 * 6))
    assert [(d.occurrence, d.due_at) for d in late.due] == [(2, minutes(90))]
    assert alerted.timing(repeating, minutes(60 * 6)).next_due_at == minutes(60 * 7)


def test_a_repeat_is_stopped_by_an_acknowledgement() -> None:
    repeating, alerted = policy(REPEATING), Alerted(record={"TX_AMOUNT": 9000})
    alerted.escalate_due(repeating, minutes(30))
    alerted.then(lambda a: a.acknowledge("ann", minutes(40)))
    assert alerted.timing(repeating, minutes(200)) == EscalationTiming((), None)


# Which alerts a policy watches -----------------------------------------------------------------


def on_record(field: str, **tests: Any) -> dict[str, Any]:
    return {"record": [{"field": field, **tests}]}


def carrying(**fields: Any) -> dict[str, Any]:
    return {"record": fields}


@pytest.mark.parametrize(
    ("match", "detected", "watched"),
    [
        ({"severity": {"at_least": "high"}}, {"severity": Severity.CRITICAL}, True),
        ({"severity": {"at_least": "high"}}, {"severity": Severity.MEDIUM}, False),
        ({"severity": ["medium", "critical"]}, {"severity": Severity.HIGH}, False),
        ({"severity": ["medium", "critical"]}, {"severity": Severity.MEDIUM}, True),
        ({"score": {"at_least": 0.9}}, {"score": 0.95}, True),
        ({"score": {"at_least": 0.9}}, {"score": 0.85}, False),
        ({"score": {"at_least": 0.5, "at_most": 0.8}}, {"score": 0.8}, True),
        ({"score": {"at_most": 0.8}}, {"score": 0.81}, False),
        ({"model_lines": ["cards-iforest"]}, {}, True),
        ({"model_lines": ["cards-lgbm"]}, {}, False),
        ({"sources": ["payments"]}, {}, False),
        (on_record("TX_AMOUNT", above=5000), carrying(TX_AMOUNT=5000), False),
        (on_record("TX_AMOUNT", at_least=5000), carrying(TX_AMOUNT=5000), True),
        (on_record("TX_AMOUNT", at_least=5000, below=1e4), carrying(TX_AMOUNT=12000), False),
        (on_record("TX_AMOUNT", at_least=5000), carrying(TX_AMOUNT="9000"), False),
        (on_record("TX_AMOUNT", at_least=5000), carrying(), False),
        (on_record("CHANNEL", equals="online"), carrying(CHANNEL="online"), True),
        (on_record("CHANNEL", not_equals="online"), carrying(CHANNEL="pos"), True),
        (on_record("CHANNEL", not_equals="online"), carrying(), False),
        (on_record("MCC", **{"in": [7995, 6051]}), carrying(MCC=7995), True),
        (on_record("MCC", **{"in": [7995, 6051]}), carrying(MCC="7995"), False),
        (on_record("COUNTRY", not_in=["GB", "IE"]), carrying(COUNTRY="NG"), True),
        (on_record("FLAGGED", equals=True), carrying(FLAGGED=1), False),
        (
            {"entity": [{"field": "tx_count_1d", "above": 3}]},
            {"entity_context": {"tx_count_1d": 7.0}},
            True,
        ),
        ({"entity": [{"field": "tx_count_1d", "above": 3}]}, {"entity_context": {}}, False),
    ],
)
def test_a_policy_watches_the_alerts_its_match_names(
    match: dict[str, Any], detected: dict[str, Any], watched: bool
) -> None:
    timing = Alerted(**detected).timing(policy(PAGING, match=match), T0)
    assert bool(timing.due) is watched


def test_a_disabled_policy_owes_nothing() -> None:
    paging = policy(PAGING)
    paging.disable("dana", DEFINED_AT, "outage")
    assert Alerted().timing(paging, minutes(30)) == EscalationTiming((), None)


def test_another_tenants_policy_owes_nothing() -> None:
    theirs = policy(PAGING, tenant_id="umbrella")
    assert Alerted().timing(theirs, minutes(30)) == EscalationTiming((), None)


def test_an_alert_raised_before_its_policy_was_defined_owes_nothing() -> None:
    definition = PolicyDefinition.from_document(PAGING)
    newer = EscalationPolicy.define("default", "dana", minutes(1), definition)
    assert Alerted().timing(newer, minutes(30)) == EscalationTiming((), None)


# Several policies -------------------------------------------------------------------------------


def test_every_policy_that_watches_an_alert_adds_its_steps_and_the_earliest_next_time() -> None:
    alerted = Alerted(record={"TX_AMOUNT": 9000})
    agenda = due_escalations(alerted.history, [policy(PAGING), policy(REPEATING)], minutes(1))
    assert [(d.policy, d.step) for d in agenda.due] == [("cards-critical", 1)]
    assert agenda.next_due_at == minutes(15)
    later = due_escalations(alerted.history, [policy(PAGING), policy(REPEATING)], minutes(31))
    assert [(d.policy, d.step) for d in later.due] == [
        ("cards-critical", 1),
        ("cards-critical", 2),
        ("cards-high-amount", 1),
    ]
    assert later.next_due_at is None
