"""Notices of domain events: what a stored event becomes on the DOMAIN stream, and back."""

from __future__ import annotations

from datetime import timedelta

from tests.builders import T0, detection
from vigil.application.domain_events import notice_of
from vigil.domain.alert import Alert
from vigil.domain.api_key import ApiKeyRequest
from vigil.domain.case import Case, CaseSla, Priority
from vigil.domain.user import CREDENTIAL_FIELDS, User
from vigil.infrastructure.nats.domain_events import decode, encode


def test_a_notice_names_the_aggregate_and_the_event_and_stamps_who_and_when() -> None:
    alert = Alert.raise_from(detection(tenant_id="acme"), "system:detector", T0)
    alert.acknowledge("dana", T0 + timedelta(minutes=5), "called the cardholder")
    raised, acknowledged = (notice_of(n, e) for n, e in enumerate(alert.collect_events(), 1))

    assert (raised.aggregate, raised.event, raised.subject_suffix) == (
        "Alert",
        "Raised",
        "Alert.Raised",
    )
    assert (acknowledged.notification_id, acknowledged.version) == (2, 2)
    assert (acknowledged.tenant_id, acknowledged.actor) == ("acme", "dana")
    assert acknowledged.at == T0 + timedelta(minutes=5)
    assert acknowledged.aggregate_id == alert.id
    assert acknowledged.data == {"note": "called the cardholder"}


def test_a_notice_carries_the_events_fields_as_json_values() -> None:
    alert = Alert.raise_from(detection(), "system:detector", T0)
    case = Case.open(
        alert.id, "acme", "dana", T0, "Stolen card", Priority.HIGH, [alert.id], CaseSla()
    )
    opened = notice_of(7, case.collect_events()[0])

    assert opened.data["title"] == "Stolen card"
    assert opened.data["priority"] == "high"
    assert opened.data["alert_ids"] == [str(alert.id)]
    assert opened.data["due_at"] == (T0 + timedelta(hours=24)).isoformat()


def test_a_notice_travels_the_wire_unchanged() -> None:
    alert = Alert.raise_from(detection(), "system:detector", T0)
    raised = notice_of(42, alert.collect_events()[0])

    assert decode(encode(raised)) == raised


def test_credential_hashes_never_leave_the_event_store() -> None:
    user = User.register("acme", "admin", T0, "dana", "Dana", "argon2-hash-of-dana", ["analyst"])
    user.change_password("dana", T0 + timedelta(days=1), "argon2-hash-of-the-new-one")
    key = ApiKeyRequest("0123456789ab", "f" * 64, "ci", frozenset(), T0 + timedelta(days=30))
    user.issue_api_key("dana", T0 + timedelta(days=2), key, ["alerts:read"])

    notices = [notice_of(n, e) for n, e in enumerate(user.collect_events(), 1)]

    assert [n.event for n in notices] == ["Registered", "PasswordChanged", "ApiKeyIssued"]
    assert all(not CREDENTIAL_FIELDS & n.data.keys() for n in notices)
    assert notices[0].data["username"] == "dana"
    assert notices[2].data["key_id"] == "0123456789ab"
