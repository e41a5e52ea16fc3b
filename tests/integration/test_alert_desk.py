"""The AlertDesk application on both event stores: the embedded SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Mapper, StoredEvent

from tests.builders import T0, detection
from vigil.application.alert_desk import AlertDesk
from vigil.bootstrap import build_alert_desk
from vigil.domain.alert import Alert, AlertStatus, Detection
from vigil.domain.errors import AlertIsClosed, AlertNotFound
from vigil.infrastructure.settings import Settings


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(settings: Settings, clock: Clock) -> AlertDesk:
    """Unlike the shared desk, its clock moves only when a test moves it."""
    return build_alert_desk(settings, clock)


def seen(record_id: str, tenant_id: str = "default") -> Detection:
    """A transaction whose customer made four purchases that day."""
    return detection(record_id, tenant_id=tenant_id, entity_context={"count_24h": 4.0})


def test_saving_the_same_records_alert_twice_leaves_exactly_one(desk: AlertDesk) -> None:
    first = desk.raise_alerts([seen("tx-1"), seen("tx-2")])
    again = desk.raise_alerts([seen("tx-2"), seen("tx-3")])
    assert (first.raised, first.already_raised) == (2, 0)
    assert (again.raised, again.already_raised) == (1, 1)
    raised = desk.recorder.select_notifications(None, 100)
    assert sorted(desk.repository.get(n.originator_id).record_id for n in raised) == [
        "tx-1",
        "tx-2",
        "tx-3",
    ]


def test_an_alert_comes_back_from_the_store_as_it_was_left(
    settings: Settings, desk: AlertDesk, clock: Clock
) -> None:
    alert_id = seen("tx-1").alert_id
    desk.raise_alerts([seen("tx-1")])
    clock.now = T0 + timedelta(minutes=2)
    desk.acknowledge("default", alert_id, "ann", "calling the cardholder")
    desk.resolve("default", alert_id, "ann", "cardholder confirmed the purchase")

    reloaded = build_alert_desk(settings).get_alert("default", alert_id)
    assert reloaded.status is AlertStatus.RESOLVED
    assert reloaded.entity_context == {"count_24h": 4.0}
    timeline = desk.timeline("default", alert_id)
    assert [(e.event, e.actor) for e in timeline] == [
        ("Raised", "system:detector"),
        ("Acknowledged", "ann"),
        ("Resolved", "ann"),
    ]
    assert [e.at for e in timeline] == [T0, T0 + timedelta(minutes=2), T0 + timedelta(minutes=2)]
    with pytest.raises(AlertIsClosed):
        desk.comment("default", alert_id, "bob", "one more thing")
    assert len(desk.timeline("default", alert_id)) == 3


def test_another_tenants_alert_answers_as_not_found(desk: AlertDesk) -> None:
    theirs = seen("tx-1", tenant_id="other-bank")
    desk.raise_alerts([theirs])
    with pytest.raises(AlertNotFound):
        desk.acknowledge("default", theirs.alert_id, "ann")
    with pytest.raises(AlertNotFound):
        desk.timeline("default", theirs.alert_id)


def test_with_an_encryption_key_the_stored_events_are_unreadable(
    sqlite_settings: Settings,
) -> None:
    key = AESCipher.create_key(32)
    encrypted = sqlite_settings.model_copy(
        update={"storage": sqlite_settings.storage.model_copy(update={"encryption_key": key})}
    )
    desk = build_alert_desk(encrypted)
    desk.raise_alerts([seen("tx-secret")])
    (stored,) = desk.recorder.select_notifications(None, 10)
    assert b"tx-secret" not in stored.state
    assert b"TX_AMOUNT" not in stored.state
    assert desk.get_alert("default", seen("tx-secret").alert_id).record_id == "tx-secret"


def test_an_alert_stored_before_rules_existed_loads_with_no_rule_hits(desk: AlertDesk) -> None:
    """Alert.Raised version 1 had no rule fields; its stored events must load as they are."""
    flagged = seen("tx-v1")
    fresh = Alert.raise_from(flagged, "detector", T0)
    (raised,) = fresh.collect_events()
    mapper = desk.mapper
    stored = mapper.to_stored_event(raised)
    state = mapper.transcoder.decode(_opened(mapper, stored.state))
    assert state.pop("class_version") == 2
    del state["rule_hits"], state["rule_set_version"]
    version_1 = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=_sealed(mapper, mapper.transcoder.encode(state)),
    )

    desk.recorder.insert_events([version_1])

    alert = desk.get_alert("default", flagged.alert_id)
    assert (alert.record_id, alert.rule_hits, alert.rule_set_version) == ("tx-v1", (), None)


def _opened(mapper: Mapper[UUID], state: bytes) -> bytes:
    """Stored state as the store's cipher and compressor leave it, undone in reverse order."""
    if mapper.cipher is not None:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor is not None:
        state = mapper.compressor.decompress(state)
    return state


def _sealed(mapper: Mapper[UUID], state: bytes) -> bytes:
    if mapper.compressor is not None:
        state = mapper.compressor.compress(state)
    if mapper.cipher is not None:
        state = mapper.cipher.encrypt(state)
    return state
