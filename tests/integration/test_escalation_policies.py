"""Escalation policies on both event stores: applied from YAML, changed, disabled and listed; and
the due steps read back from a reloaded alert are the ones read before, so a timer that restarts
loses nothing and repeats nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from tests.builders import T0, TickingClock, detection
from vigil.application.casework import Casework
from vigil.application.escalation_policies import (
    PolicyNotFound,
    alert_history,
    apply_policy,
    apply_policy_text,
    disable_policy,
    due_escalations,
    enable_policy,
    escalate_due,
    get_policy,
    list_policies,
)
from vigil.application.source_desk import DocumentRefused
from vigil.bootstrap import build_alert_desk
from vigil.domain.alert import Alert, Detection, Severity
from vigil.domain.escalation_policy import EscalationPolicy
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.source_documents import YamlSourceDocuments

TENANT = "default"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "card_escalations.yaml"


def critical() -> Detection:
    return detection("tx-critical", severity=Severity.CRITICAL)


def high_amount() -> Detection:
    return detection("tx-high", severity=Severity.HIGH, record={"TX_AMOUNT": 9000.0})


def at(desk: Casework, when: datetime) -> None:
    """Moves the desk's ticking clock, as time passing would."""
    assert isinstance(desk.clock, TickingClock)
    desk.clock.now = when


@pytest.fixture
def card_policies(desk: Casework) -> list[EscalationPolicy]:
    """The example's two card policies, applied as an admin would."""
    applied = apply_policy_text(desk, YamlSourceDocuments(), TENANT, "dana", EXAMPLE.read_text())
    return [one.policy for one in applied]


def test_applied_policies_are_saved_and_read_back_by_another_process(
    settings: Settings, desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    assert [p.name for p in card_policies] == ["cards-critical", "cards-high-amount"]
    reloaded = build_alert_desk(settings)
    try:
        listed = list_policies(reloaded, TENANT)
        assert [p.name for p in listed] == ["cards-critical", "cards-high-amount"]
        assert [p.definition for p in listed] == [p.definition for p in card_policies]
        assert all(p.enabled and p.revision == 1 for p in listed)
    finally:
        reloaded.close()


def test_applying_an_unchanged_document_records_nothing(
    desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    before = desk.recorder.max_notification_id()
    again = apply_policy_text(desk, YamlSourceDocuments(), TENANT, "dana", EXAMPLE.read_text())
    assert [one.changed for one in again] == [False, False]
    assert desk.recorder.max_notification_id() == before


def test_a_changed_document_is_the_next_revision_and_disabling_is_on_record(
    desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    document = card_policies[0].definition.to_document()
    document["steps"][1]["after"] = "20m"
    applied = apply_policy(desk, TENANT, "erin", document, note="the lead asked for 20")
    assert (applied.changed, applied.policy.revision) == (True, 2)
    disable_policy(desk, TENANT, "erin", "cards-critical", "paging storm")
    assert not get_policy(desk, TENANT, "cards-critical").enabled
    enable_policy(desk, TENANT, "erin", "cards-critical", "storm over")
    policy = get_policy(desk, TENANT, "cards-critical")
    assert (policy.enabled, policy.definition.steps[1].after_minutes) == (True, 20)
    events = list(desk.events.get(policy.id))
    assert [type(e).__name__ for e in events] == ["Defined", "Changed", "Disabled", "Enabled"]
    assert [e.actor for e in events] == ["dana", "erin", "erin", "erin"]


def test_a_refused_document_records_nothing_and_names_its_document_line_and_field(
    desk: Casework,
) -> None:
    example = EXAMPLE.read_text()
    text = example + "---\nname: cards-slow\nsteps:\n  - after: soon\n    notify: [x]\n"
    before = desk.recorder.max_notification_id()
    with pytest.raises(DocumentRefused) as refused:
        apply_policy_text(desk, YamlSourceDocuments(), TENANT, "dana", text)
    # The third document's `- after: soon` is the fourth line after the example's last.
    assert (refused.value.document, refused.value.line) == (3, len(example.splitlines()) + 4)
    assert refused.value.field == "steps[0].after"
    assert desk.recorder.max_notification_id() == before
    assert list_policies(desk, TENANT) == []


def test_another_tenants_policies_are_neither_listed_nor_found(
    desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    assert list_policies(desk, "umbrella") == []
    with pytest.raises(PolicyNotFound):
        get_policy(desk, "umbrella", "cards-critical")


def test_the_due_steps_read_back_from_a_reloaded_alert_are_the_same(
    settings: Settings, desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    desk.raise_alerts([critical(), high_amount()])
    ids = [critical().alert_id, high_amount().alert_id]
    first = [escalate_due(desk, TENANT, i, card_policies) for i in ids]
    assert [[(d.policy, d.step) for d in a.due] for a in first] == [[("cards-critical", 1)], []]
    at(desk, T0 + timedelta(minutes=40))
    second = [escalate_due(desk, TENANT, i, card_policies) for i in ids]
    assert [[d.notify for d in a.due] for a in second] == [[("team-lead",)], [("fraud-team",)]]
    moments = [T0 + timedelta(minutes=n) for n in (40, 99, 101, 60 * 9)]
    before = {i: [_agenda(desk, i, when) for when in moments] for i in ids}

    reloaded = build_alert_desk(settings, clock=TickingClock(T0 + timedelta(minutes=40)))
    try:
        assert {i: [_agenda(reloaded, i, when) for when in moments] for i in ids} == before
        assert before[ids[1]][2].due[0].occurrence == 2
        again = [escalate_due(reloaded, TENANT, i, list_policies(reloaded, TENANT)) for i in ids]
        assert [a.due for a in again] == [(), ()]
        escalated = [e for e in alert_history(reloaded, TENANT, ids[0]) if _by_policy(e)]
        assert [(e.step_after_minutes, e.occurrence, e.notify) for e in escalated] == [
            (0, 1, ["on-call"]),
            (15, 1, ["team-lead"]),
        ]
    finally:
        reloaded.close()


def test_two_timers_at_once_record_each_step_once(
    settings: Settings,
    desk: Casework,
    card_policies: list[EscalationPolicy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk.raise_alerts([critical()])
    other = build_alert_desk(settings, clock=TickingClock(T0 + timedelta(seconds=30)))
    save = desk.save

    def save_after_the_other_timer(*aggregates: Any) -> Any:
        # The other timer reads, decides and saves between this timer's read and its save.
        monkeypatch.setattr(desk, "save", save)
        assert len(escalate_due(other, TENANT, critical().alert_id, card_policies).due) == 1
        return save(*aggregates)

    monkeypatch.setattr(desk, "save", save_after_the_other_timer)
    try:
        assert escalate_due(desk, TENANT, critical().alert_id, card_policies).due == ()
    finally:
        other.close()
    history = alert_history(desk, TENANT, critical().alert_id)
    assert [e.step_after_minutes for e in history if _by_policy(e)] == [0]


def test_an_alert_acknowledged_in_another_process_is_due_nothing(
    settings: Settings, desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    desk.raise_alerts([critical()])
    escalate_due(desk, TENANT, critical().alert_id, card_policies)
    other = build_alert_desk(settings)
    try:
        other.acknowledge(TENANT, critical().alert_id, "ann")
    finally:
        other.close()
    at(desk, T0 + timedelta(hours=2))
    assert escalate_due(desk, TENANT, critical().alert_id, card_policies).due == ()


def test_an_escalation_stored_before_policies_existed_loads_as_one_by_hand(
    desk: Casework, card_policies: list[EscalationPolicy]
) -> None:
    """Alert.Escalated version 1 had no policy fields; its stored events must load as they are."""
    desk.raise_alerts([critical()])
    alert = desk.get_alert(TENANT, critical().alert_id)
    alert.escalate("bob", desk.clock(), "large amount")
    (escalated,) = alert.collect_events()
    mapper = desk.mapper
    stored = mapper.to_stored_event(escalated)
    state = mapper.transcoder.decode(_opened(mapper, stored.state))
    assert state.pop("class_version") == 2
    for name in ("policy", "step_after_minutes", "occurrence", "notify"):
        del state[name]
    desk.recorder.insert_events(
        [
            StoredEvent(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=_sealed(mapper, mapper.transcoder.encode(state)),
            )
        ]
    )

    history = alert_history(desk, TENANT, critical().alert_id)
    loaded = history[-1]
    assert isinstance(loaded, Alert.Escalated)
    assert (loaded.reason, loaded.policy, loaded.occurrence, loaded.notify) == (
        "large amount",
        None,
        None,
        None,
    )
    agenda = due_escalations(history, card_policies, desk.clock())
    assert [(d.policy, d.step) for d in agenda.due] == [("cards-critical", 1)]


def _agenda(desk: Casework, alert_id: UUID, when: datetime) -> object:
    history = alert_history(desk, TENANT, alert_id)
    return due_escalations(history, list_policies(desk, TENANT), when)


def _by_policy(event: Alert.Event) -> bool:
    return isinstance(event, Alert.Escalated) and event.policy is not None


def _opened(mapper: object, state: bytes) -> bytes:
    cipher, compressor = getattr(mapper, "cipher", None), getattr(mapper, "compressor", None)
    if cipher is not None:
        state = cipher.decrypt(state)
    if compressor is not None:
        state = compressor.decompress(state)
    return state


def _sealed(mapper: object, state: bytes) -> bytes:
    cipher, compressor = getattr(mapper, "cipher", None), getattr(mapper, "compressor", None)
    if compressor is not None:
        state = compressor.compress(state)
    if cipher is not None:
        state = cipher.encrypt(state)
    return state
