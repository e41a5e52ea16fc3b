"""The Case aggregate: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import T0
from vigil.domain.attachment import Attachment, attachment_filename
from vigil.domain.case import Case, CaseSla, CaseStatus, Disposition, Priority
from vigil.domain.errors import (
    CaseIsClosed,
    CaseIsNotClosed,
    DomainError,
    IllegalTransition,
    InvalidCommand,
)

SLA = CaseSla()
STATEMENT = Attachment("ab" * 32, "statement.pdf", "application/pdf", 2048)
ALERTS = [UUID(int=n) for n in range(1, 4)]


def opened_case(priority: Priority = Priority.HIGH, alerts: list[UUID] | None = None) -> Case:
    case = Case.open(
        uuid4(),
        "acme",
        "ann",
        T0,
        "Card testing at terminal 6105",
        priority,
        alerts or ALERTS[:2],
        SLA,
    )
    case.collect_events()
    return case


@pytest.fixture
def case() -> Case:
    return opened_case()


@pytest.fixture
def closed_case(case: Case) -> Case:
    case.close("ann", T0, Disposition.CONFIRMED_FRAUD, "Cardholder confirmed the card was stolen")
    case.collect_events()
    return case


def test_opening_a_case_records_its_alerts_and_a_due_date_from_the_sla() -> None:
    case = Case.open(uuid4(), "acme", "ann", T0, "Stolen card", Priority.CRITICAL, ALERTS[:1], SLA)
    (opened,) = case.collect_events()
    assert isinstance(opened, Case.Opened)
    assert (opened.actor, opened.timestamp, opened.tenant_id) == ("ann", T0, "acme")
    assert case.alert_ids == ALERTS[:1]
    assert case.due_at == T0 + timedelta(hours=4)
    assert case.status is CaseStatus.OPEN


@pytest.mark.parametrize("alerts", [[], [ALERTS[0], ALERTS[0]]], ids=["none", "twice"])
def test_a_case_opens_from_distinct_alerts_only(alerts: list[UUID]) -> None:
    with pytest.raises(InvalidCommand) as caught:
        Case.open(uuid4(), "acme", "ann", T0, "x", Priority.LOW, alerts, SLA)
    assert caught.value.field == "alert_ids"


def test_the_workflow_runs_open_investigating_pending_info_and_back(case: Case) -> None:
    case.change_status("ann", T0, CaseStatus.INVESTIGATING)
    case.change_status("ann", T0, CaseStatus.PENDING_INFO, "asked the bank for statements")
    case.change_status("ann", T0, CaseStatus.INVESTIGATING, "statements arrived")
    assert [e.to_status for e in case.collect_events()] == [
        "investigating",
        "pending_info",
        "investigating",
    ]


def test_an_open_case_cannot_jump_to_pending_info(case: Case) -> None:
    with pytest.raises(IllegalTransition, match="cannot go from open to pending_info"):
        case.change_status("ann", T0, CaseStatus.PENDING_INFO)
    assert case.collect_events() == []


def test_closing_needs_a_summary_and_records_the_disposition(case: Case) -> None:
    with pytest.raises(InvalidCommand) as caught:
        case.close("ann", T0, Disposition.FALSE_POSITIVE, "  ")
    assert caught.value.field == "summary"
    case.close("ann", T0, Disposition.FALSE_POSITIVE, "Customer was travelling")
    assert (case.status, case.disposition) == (CaseStatus.CLOSED, Disposition.FALSE_POSITIVE)


@pytest.mark.parametrize(
    "command",
    [
        lambda c: c.attach("bob", T0, ALERTS[2]),
        lambda c: c.detach("bob", T0, ALERTS[0]),
        lambda c: c.assign("bob", T0, "carol"),
        lambda c: c.comment("bob", T0, "one more thing"),
        lambda c: c.change_status("bob", T0, CaseStatus.INVESTIGATING),
        lambda c: c.reprioritise("bob", T0, Priority.LOW, SLA),
        lambda c: c.breach_sla("system:sla", T0 + timedelta(days=30)),
        lambda c: c.close("bob", T0, Disposition.INCONCLUSIVE, "again"),
    ],
    ids=["attach", "detach", "assign", "comment", "status", "priority", "sla", "close"],
)
def test_a_closed_case_accepts_nothing_but_reopen(
    closed_case: Case, command: Callable[[Case], None]
) -> None:
    with pytest.raises(CaseIsClosed):
        command(closed_case)
    assert closed_case.collect_events() == []


def test_reopening_a_closed_case_puts_it_back_under_investigation(closed_case: Case) -> None:
    closed_case.reopen("bob", T0, "chargeback arrived")
    assert (closed_case.status, closed_case.disposition) == (CaseStatus.INVESTIGATING, None)


def test_only_a_closed_case_reopens(case: Case) -> None:
    with pytest.raises(CaseIsNotClosed):
        case.reopen("bob", T0, "why not")


def test_alerts_are_attached_once_and_the_last_one_stays(case: Case) -> None:
    case.attach("ann", T0, ALERTS[2])
    with pytest.raises(InvalidCommand, match="already in case"):
        case.attach("ann", T0, ALERTS[2])
    case.detach("ann", T0, ALERTS[0])
    case.detach("ann", T0, ALERTS[1])
    with pytest.raises(InvalidCommand, match="at least one alert"):
        case.detach("ann", T0, ALERTS[2])
    assert case.alert_ids == [ALERTS[2]]


def test_the_sla_is_breached_once_and_only_after_the_due_date(case: Case) -> None:
    with pytest.raises(InvalidCommand, match="not due until"):
        case.breach_sla("system:sla", case.due_at - timedelta(seconds=1))
    case.breach_sla("system:sla", case.due_at)
    with pytest.raises(InvalidCommand, match="already"):
        case.breach_sla("system:sla", case.due_at + timedelta(hours=1))
    assert case.sla_breached


def test_a_new_priority_moves_the_due_date_from_the_opening(case: Case) -> None:
    case.reprioritise("lead", T0 + timedelta(hours=2), Priority.CRITICAL, SLA)
    assert case.due_at == T0 + timedelta(hours=4)


# Any sequence of commands either applies or is refused, and replay gives the same state. ---------

COMMANDS = st.sampled_from(
    [
        lambda c, t: c.attach("ann", t, ALERTS[2]),
        lambda c, t: c.detach("ann", t, ALERTS[0]),
        lambda c, t: c.assign("ann", t, "bob"),
        lambda c, t: c.assign("ann", t, "carol"),
        lambda c, t: c.comment("bob", t, "called the merchant"),
        lambda c, t: c.change_status("bob", t, CaseStatus.INVESTIGATING),
        lambda c, t: c.change_status("bob", t, CaseStatus.PENDING_INFO),
        lambda c, t: c.reprioritise("lead", t, Priority.CRITICAL, SLA),
        lambda c, t: c.reprioritise("lead", t, Priority.LOW, SLA),
        lambda c, t: c.breach_sla("system:sla", t),
        lambda c, t: c.close("bob", t, Disposition.CONFIRMED_FRAUD, "confirmed"),
        lambda c, t: c.close("bob", t, Disposition.FALSE_POSITIVE, "travelling"),
        lambda c, t: c.reopen("lead", t, "chargeback"),
        lambda c, t: c.take("dan", t),
        lambda c, t: c.tag("ann", t, "mule"),
        lambda c, t: c.untag("ann", t, "mule"),
        lambda c, t: c.attach_file("ann", t, STATEMENT),
        lambda c, t: c.remove_file("ann", t, STATEMENT.sha256, "wrong customer"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(COMMANDS, st.integers(min_value=0, max_value=500)), max_size=25))
def test_any_sequence_of_commands_applies_or_is_refused_and_replays_to_the_same_case(
    commands: list[tuple[object, int]],
) -> None:
    case = Case.open(uuid4(), "acme", "ann", T0, "Probe", Priority.MEDIUM, ALERTS[:2], SLA)
    recorded = list(case.collect_events())
    for command, hours in commands:
        try:
            command(case, T0 + timedelta(hours=hours))  # type: ignore[operator]  # sampled lambdas
        except DomainError:
            assert case.collect_events() == []  # a refused command records nothing
        else:
            recorded += case.collect_events()
    replayed: Case | None = None
    for event in recorded:
        replayed = event.mutate(replayed)
    assert replayed == case
    assert case.alert_ids  # a case never loses its last alert


def test_a_file_is_attached_once_listed_until_removed_and_never_to_a_closed_case(
    closed_case: Case,
) -> None:
    case = opened_case()
    case.attach_file("ann", T0, STATEMENT)
    with pytest.raises(InvalidCommand, match=r"already, as statement\.pdf"):
        case.attach_file("bob", T0, STATEMENT)
    case.remove_file("ann", T0, STATEMENT.sha256, "wrong customer")
    assert [type(e).__name__ for e in case.collect_events()] == ["FileAttached", "FileRemoved"]
    assert case.attachments == {}
    with pytest.raises(CaseIsClosed):
        closed_case.attach_file("ann", T0, STATEMENT)


@pytest.mark.parametrize(
    ("uploaded", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\scan.png", "scan.png"),
        ("a\x00b.txt", "ab.txt"),
    ],
)
def test_an_uploaded_file_name_is_kept_as_a_name_never_a_path(uploaded: str, shown: str) -> None:
    assert attachment_filename(uploaded) == shown


def test_a_file_without_a_name_or_a_digest_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="must name a file"):
        attachment_filename("../")
    with pytest.raises(InvalidCommand, match="64 lower-case hex"):
        Attachment("not-a-digest", "a.pdf", "application/pdf", 10)
