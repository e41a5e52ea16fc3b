"""The escalate worker on SQLite and PostgreSQL, with an injected clock: it pages on time, stops
when someone acts, takes a changed policy at once, and a timer started anew over the same store
records nothing twice and loses nothing, because what it holds is rebuilt from the log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.builders import T0, TickingClock, detection
from vigil.application.casework import Casework
from vigil.application.escalation_policies import (
    ESCALATION_ACTOR,
    alert_history,
    apply_policy,
    apply_policy_text,
    disable_policy,
    get_policy,
)
from vigil.application.escalation_timer import EscalationTimer
from vigil.bootstrap import build_alert_desk, event_store_listener
from vigil.domain.alert import Alert, Detection, Severity
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.source_documents import YamlSourceDocuments
from vigil.workers.escalate import run_escalation_timer

TENANT = "default"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "card_escalations.yaml"


def critical(record_id: str = "tx-critical") -> Detection:
    return detection(record_id, severity=Severity.CRITICAL)


def at(desk: Casework, when: datetime) -> None:
    """Moves the desk's ticking clock, as time passing would."""
    assert isinstance(desk.clock, TickingClock)
    desk.clock.now = when


def steps_told(desk: Casework, detected: Detection) -> list[tuple[int | None, list[str] | None]]:
    """The policy steps recorded on the alert: (delay, whom it told), oldest first."""
    return [
        (e.step_after_minutes, e.notify)
        for e in alert_history(desk, TENANT, detected.alert_id)
        if isinstance(e, Alert.Escalated) and e.actor == ESCALATION_ACTOR
    ]


@pytest.fixture
def card_policies(desk: Casework) -> None:
    """The example's card policies, applied by an admin before any alert."""
    apply_policy_text(desk, YamlSourceDocuments(), TENANT, "dana", EXAMPLE.read_text())


@pytest.mark.usefixtures("card_policies")
def test_a_critical_alert_pages_on_call_at_once_and_the_team_lead_after_15_minutes(
    desk: Casework,
) -> None:
    desk.raise_alerts([critical()])
    raised_at = desk.get_alert(TENANT, critical().alert_id).created_on
    timer = EscalationTimer(desk)

    assert timer.beat().escalations == 1
    assert steps_told(desk, critical()) == [(0, ["on-call"])]
    assert timer.next_due_at == raised_at + timedelta(minutes=15)
    at(desk, raised_at + timedelta(minutes=14))
    assert timer.beat().escalations == 0
    at(desk, raised_at + timedelta(minutes=15))
    assert timer.beat().escalations == 1
    assert timer.beat().escalations == 0
    assert steps_told(desk, critical()) == [(0, ["on-call"]), (15, ["team-lead"])]
    assert timer.next_due_at is None


@pytest.mark.usefixtures("card_policies")
def test_acknowledging_an_alert_stops_the_rest_of_its_steps(desk: Casework) -> None:
    desk.raise_alerts([critical()])
    timer = EscalationTimer(desk)
    timer.beat()
    desk.acknowledge(TENANT, critical().alert_id, "ann")

    at(desk, T0 + timedelta(hours=3))
    assert timer.beat().escalations == 0
    assert timer.next_due_at is None
    assert steps_told(desk, critical()) == [(0, ["on-call"])]


@pytest.mark.usefixtures("card_policies")
def test_a_timer_started_anew_records_nothing_twice_and_loses_nothing(
    settings: Settings, desk: Casework
) -> None:
    desk.raise_alerts([critical("tx-1"), critical("tx-2")])
    first = EscalationTimer(desk)
    assert first.beat().escalations == 2
    # The first timer dies; while none runs, tx-2 is acknowledged and the 15 minutes pass.
    desk.acknowledge(TENANT, critical("tx-2").alert_id, "ann")
    restarted = build_alert_desk(settings, clock=TickingClock(T0 + timedelta(minutes=20)))
    try:
        second = EscalationTimer(restarted)
        beat = second.beat()
        assert (beat.escalations, beat.alerts) == (1, 2)
        assert second.beat().escalations == 0
        # A third timer, or the first one come back, finds every step done.
        assert EscalationTimer(restarted).beat().escalations == 0
        at(desk, T0 + timedelta(minutes=21))
        assert first.beat().escalations == 0
    finally:
        restarted.close()
    assert steps_told(desk, critical("tx-1")) == [(0, ["on-call"]), (15, ["team-lead"])]
    assert steps_told(desk, critical("tx-2")) == [(0, ["on-call"])]


@pytest.mark.usefixtures("card_policies")
def test_a_policy_changed_while_alerts_are_open_takes_effect(desk: Casework) -> None:
    high = detection("tx-high", severity=Severity.HIGH, record={"TX_AMOUNT": 10.0})
    desk.raise_alerts([critical(), high])
    timer = EscalationTimer(desk)
    assert timer.beat().escalations == 1
    assert timer.beat().alerts == 2, "an open alert no policy matches yet is indexed too"

    document = get_policy(desk, TENANT, "cards-critical").definition.to_document()
    document["match"]["severity"] = {"at_least": "high"}
    document["steps"][1]["after"] = "30m"
    apply_policy(desk, TENANT, "dana", document, note="high too; the lead asked for 30")
    assert timer.beat().escalations == 1, "the high alert now matches: on-call at once"
    assert steps_told(desk, high) == [(0, ["on-call"])]
    at(desk, T0 + timedelta(minutes=20))
    assert timer.beat().escalations == 0
    disable_policy(desk, TENANT, "dana", "cards-critical", "paging storm")
    at(desk, T0 + timedelta(minutes=40))
    assert timer.beat().escalations == 0
    assert timer.next_due_at is None
    assert steps_told(desk, critical()) == [(0, ["on-call"])]


def test_an_alert_raised_before_its_policy_was_defined_is_never_escalated(
    desk: Casework,
) -> None:
    desk.raise_alerts([critical("tx-early")])
    apply_policy_text(desk, YamlSourceDocuments(), TENANT, "dana", EXAMPLE.read_text())
    desk.raise_alerts([critical("tx-late")])
    timer = EscalationTimer(desk)
    assert (timer.beat().escalations, len(timer.index)) == (1, 1)
    assert steps_told(desk, critical("tx-early")) == []


async def until(holds: Callable[[], bool], seconds: float) -> None:
    """Returns once `holds()`; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while not holds():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


class StoppedClock:
    """Time stands still unless the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_an_alert_raised_while_the_worker_sleeps_is_escalated_within_a_beat(
    settings: Settings, desk: Casework
) -> None:
    """PostgreSQL's NOTIFY wakes the worker at once (its beat here is a minute); on SQLite it
    looks again every beat, 0.1 s here (1 s by default)."""
    apply_policy_text(desk, YamlSourceDocuments(), TENANT, "dana", EXAMPLE.read_text())
    clock = StoppedClock(T0 + timedelta(minutes=1))
    worker_desk = build_alert_desk(settings, clock=clock)
    listener = event_store_listener(settings, worker_desk)
    beat_seconds = 0.1 if listener is None else 60.0
    timer, stop = EscalationTimer(worker_desk), asyncio.Event()
    task = asyncio.create_task(
        run_escalation_timer(timer, stop, clock, listener, beat_seconds=beat_seconds)
    )
    try:
        await until(lambda: timer.position is not None, seconds=5.0)
        await asyncio.sleep(0.2)  # asleep now, with nothing due
        desk.raise_alerts([critical()])
        # Well within a second of the alert, either way; a worker that slept through it would
        # wait its whole beat (a minute) on PostgreSQL.
        await until(lambda: bool(steps_told(desk, critical())), seconds=2.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        worker_desk.close()
    assert steps_told(desk, critical()) == [(0, ["on-call"])]
