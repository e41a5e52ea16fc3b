"""Queues, take-next and tags on the aggregates: given events, when a command, then events or an
error."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from tests.builders import T0, detection
from vigil.domain.alert import Alert
from vigil.domain.case import Case, CaseSla, Priority
from vigil.domain.errors import AlreadyTaken, InvalidCommand
from vigil.domain.queue import Assignment, Queue, QueueCriteria, QueueKind, QueueRules, queue_id

ITEMS = [UUID(int=n) for n in range(1, 6)]


def rules(
    assignment: Assignment = Assignment.MANUAL, members: tuple[str, ...] = (), **criteria: object
) -> QueueRules:
    return QueueRules(QueueCriteria(**criteria), 30, assignment, members)  # type: ignore[arg-type]


def defined_queue(queue_rules: QueueRules, kind: QueueKind = QueueKind.ALERTS) -> Queue:
    queue = Queue.define("acme", "lead", T0, "Critical cards", kind, queue_rules)
    queue.collect_events()
    return queue


@pytest.fixture
def raised_alert() -> Alert:
    alert = Alert.raise_from(detection(), actor="system:detector", at=T0)
    alert.collect_events()
    return alert


def test_a_queue_is_named_once_per_tenant_and_keeps_its_rules_in_order() -> None:
    queue = Queue.define(
        "acme",
        "lead",
        T0,
        "Critical cards",
        QueueKind.ALERTS,
        rules(severities=("critical", "high", "critical"), sources=("cards",)),
    )
    (defined,) = queue.collect_events()
    assert isinstance(defined, Queue.Defined)
    assert defined.criteria["severities"] == ["critical", "high"]
    assert queue.id == queue_id("acme", " critical CARDS ") != queue_id("other", "Critical cards")


@pytest.mark.parametrize(
    ("kind", "queue_rules", "field"),
    [
        (QueueKind.ALERTS, rules(severities=("urgent",)), "severities"),
        (QueueKind.ALERTS, rules(priorities=("high",)), "priorities"),
        (QueueKind.CASES, rules(sources=("cards",)), "criteria"),
        (QueueKind.ALERTS, rules(Assignment.ROUND_ROBIN), "members"),
        (QueueKind.ALERTS, QueueRules(QueueCriteria(), 0, Assignment.MANUAL), "sla_minutes"),
    ],
)
def test_a_queue_with_rules_that_cannot_work_is_refused_naming_the_field(
    kind: QueueKind, queue_rules: QueueRules, field: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        Queue.define("acme", "lead", T0, "Broken", kind, queue_rules)
    assert refused.value.field == field


def test_round_robin_hands_items_out_in_turn_and_carries_on_where_it_stopped() -> None:
    queue = defined_queue(rules(Assignment.ROUND_ROBIN, ("ann", "bob", "cy")))
    first = queue.hand_out("system:queues", T0, ITEMS[:2], {})
    second = queue.hand_out("system:queues", T0, ITEMS[2:], {})
    assert list(first.values()) == ["ann", "bob"]
    assert list(second.values()) == ["cy", "ann", "bob"]
    handed = queue.collect_events()
    assert [type(e) for e in handed] == [Queue.HandedOut, Queue.HandedOut]
    assert handed[0].assignments == {str(ITEMS[0]): "ann", str(ITEMS[1]): "bob"}  # type: ignore[attr-defined]


def test_lowest_workload_gives_each_item_to_whoever_holds_least_at_that_moment() -> None:
    queue = defined_queue(rules(Assignment.LOWEST_WORKLOAD, ("ann", "bob", "cy")))
    chosen = queue.hand_out("system:queues", T0, ITEMS, {"ann": 3, "bob": 1})
    assert list(chosen.values()) == ["cy", "bob", "cy", "bob", "cy"]


def test_a_manual_queue_hands_nothing_out_and_a_retired_queue_changes_no_more() -> None:
    queue = defined_queue(rules())
    with pytest.raises(InvalidCommand, match="taking items"):
        queue.hand_out("system:queues", T0, ITEMS, {})
    queue.retire("lead", T0, "merged into Cards")
    with pytest.raises(InvalidCommand, match="retired"):
        queue.redefine("lead", T0, rules(severities=("high",)))


def test_redefining_a_queue_records_the_new_rules_and_refuses_the_same_ones() -> None:
    queue = defined_queue(rules())
    queue.redefine("lead", T0, rules(Assignment.ROUND_ROBIN, ("ann",), severities=("critical",)))
    assert (queue.assignment, queue.members) == (Assignment.ROUND_ROBIN, ("ann",))
    with pytest.raises(InvalidCommand, match="already"):
        queue.redefine("lead", T0, queue.rules)


def test_taking_an_alert_assigns_it_to_the_analyst_and_nobody_else_can_take_it(
    raised_alert: Alert,
) -> None:
    raised_alert.take("ann", T0)
    (taken,) = raised_alert.collect_events()
    assert isinstance(taken, Alert.Assigned)
    assert (taken.actor, taken.assignee) == ("ann", "ann")
    with pytest.raises(AlreadyTaken, match="assigned to ann"):
        raised_alert.take("bob", T0)


def test_taking_a_case_is_refused_once_it_is_assigned() -> None:
    case = Case.open(
        uuid4(), "acme", "ann", T0, "Card testing", Priority.HIGH, ITEMS[:1], CaseSla()
    )
    case.assign("lead", T0, "cy")
    with pytest.raises(AlreadyTaken):
        case.take("bob", T0)


def test_tags_are_normalised_recorded_with_the_whole_set_and_never_repeated(
    raised_alert: Alert,
) -> None:
    raised_alert.tag("ann", T0, " VIP ")
    raised_alert.tag("ann", T0, "card-testing")
    raised_alert.untag("ann", T0, "vip")
    events = raised_alert.collect_events()
    assert [(type(e).__name__, e.tags) for e in events] == [  # type: ignore[attr-defined]
        ("Tagged", ["vip"]),
        ("Tagged", ["card-testing", "vip"]),
        ("Untagged", ["card-testing"]),
    ]
    with pytest.raises(InvalidCommand, match="already tagged card-testing"):
        raised_alert.tag("ann", T0, "Card-Testing")
    with pytest.raises(InvalidCommand, match="not a tag"):
        raised_alert.tag("ann", T0, "two words")
    with pytest.raises(InvalidCommand, match="not tagged vip"):
        raised_alert.untag("ann", T0, "vip")
