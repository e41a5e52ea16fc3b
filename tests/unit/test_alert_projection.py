"""The alert queue projection: given Alert events, then the queue rows they change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import T0, detection
from vigil.application.alert_projection import AlertQueueProjection
from vigil.application.projection import RowInsert, RowUpdate, squash
from vigil.domain.alert import Alert, Severity


def raised_alert(record_id: str = "tx-1") -> Alert:
    seen = detection(record_id, tenant_id="acme", severity=Severity.CRITICAL)
    return Alert.raise_from(seen, actor="system:detector", at=T0)


@pytest.fixture
def projection() -> AlertQueueProjection:
    return AlertQueueProjection()


def test_a_raised_alert_inserts_an_open_row_with_what_the_detector_saw(
    projection: AlertQueueProjection,
) -> None:
    alert = raised_alert()
    (raised,) = alert.collect_events()

    (change,) = projection.changes(raised)

    assert change == RowInsert("alerts", alert.id, 1, change.values)
    assert change.values["tenant_id"] == "acme"
    assert change.values["status"] == "open"
    assert change.values["severity"] == "critical"
    assert change.values["raised_at"] == change.values["updated_at"] == T0
    assert change.values["comment_count"] == 0


@pytest.mark.parametrize(
    ("act", "columns"),
    [
        (lambda a, at: a.acknowledge("ann", at), {"status": "acknowledged"}),
        (lambda a, at: a.assign("ann", at, "bob"), {"assignee": "bob"}),
        (lambda a, at: a.escalate("ann", at, "big amount"), {"escalation_level": 1}),
        (lambda a, at: a.dismiss("ann", at, "known merchant"), {"status": "dismissed"}),
        (lambda a, at: a.resolve("ann", at, "refund issued"), {"status": "resolved"}),
    ],
    ids=["acknowledged", "assigned", "escalated", "dismissed", "resolved"],
)
def test_an_analyst_action_updates_its_columns_and_the_time(
    projection: AlertQueueProjection, act: object, columns: dict[str, object]
) -> None:
    alert = raised_alert()
    act(alert, T0 + timedelta(minutes=3))  # type: ignore[operator]  # parametrised lambdas
    _, action = alert.collect_events()

    (change,) = projection.changes(action)

    assert change == RowUpdate(
        "alerts", alert.id, 2, 2, {**columns, "updated_at": T0 + timedelta(minutes=3)}
    )


def test_a_comment_counts_one_more_comment(projection: AlertQueueProjection) -> None:
    alert = raised_alert()
    alert.comment("ann", T0, "calling the customer")
    _, commented = alert.collect_events()

    (change,) = projection.changes(commented)

    assert isinstance(change, RowUpdate)
    assert change.increments == {"comment_count": 1}
    assert change.apply({"comment_count": 2, "updated_at": None})["comment_count"] == 3


def test_a_reopened_alert_is_open_again(projection: AlertQueueProjection) -> None:
    alert = raised_alert()
    alert.resolve("ann", T0, "refund issued")
    alert.reopen("bob", T0, "customer disputes again")
    *_, reopened = alert.collect_events()

    (change,) = projection.changes(reopened)

    assert isinstance(change, RowUpdate)
    assert change.values["status"] == "open"
    assert change.version == 3


def test_an_older_event_does_not_change_a_newer_row(projection: AlertQueueProjection) -> None:
    alert = raised_alert()
    alert.acknowledge("ann", T0)
    _, acknowledged = alert.collect_events()
    (change,) = projection.changes(acknowledged)

    assert isinstance(change, RowUpdate)
    assert change.applies_to(row_version=1)
    assert not change.applies_to(row_version=2)
    assert not change.applies_to(row_version=5)


def test_events_the_queue_does_not_show_change_nothing(projection: AlertQueueProjection) -> None:
    assert projection.changes(object()) == []
    assert projection.changes("Alert.Raised") == []


def test_a_batch_squashes_to_one_insert_holding_the_latest_state(
    projection: AlertQueueProjection,
) -> None:
    alert = raised_alert()
    alert.acknowledge("ann", T0 + timedelta(minutes=1))
    alert.comment("ann", T0 + timedelta(minutes=2), "calling")
    alert.comment("ann", T0 + timedelta(minutes=3), "no answer")
    alert.resolve("ann", T0 + timedelta(minutes=4), "refund issued")

    (row,) = squash(c for e in alert.collect_events() for c in projection.changes(e))

    assert isinstance(row, RowInsert)
    assert row.version == 5
    assert row.values["status"] == "resolved"
    assert row.values["comment_count"] == 2
    assert row.values["updated_at"] == T0 + timedelta(minutes=4)


def test_updates_to_one_row_squash_into_one_guarded_by_the_first(
    projection: AlertQueueProjection,
) -> None:
    alert = raised_alert()
    alert.collect_events()
    alert.assign("ann", T0, "bob")
    alert.comment("bob", T0, "looking")
    alert.escalate("bob", T0, "big amount")

    (row,) = squash(c for e in alert.collect_events() for c in projection.changes(e))

    assert row == RowUpdate(
        "alerts",
        alert.id,
        since=2,
        version=4,
        values={"assignee": "bob", "escalation_level": 1, "updated_at": T0},
        increments={"comment_count": 1},
    )


def test_squashing_drops_a_replayed_older_change_and_keeps_rows_in_first_seen_order(
    projection: AlertQueueProjection,
) -> None:
    first, second = raised_alert("tx-1"), raised_alert("tx-2")
    first.acknowledge("ann", T0)
    older, newer = (projection.changes(e)[0] for e in first.collect_events())
    (other,) = projection.changes(second.collect_events()[0])

    rows = squash([older, other, newer, older])

    assert [r.key for r in rows] == [first.id, second.id]
    assert rows[0].version == 2
