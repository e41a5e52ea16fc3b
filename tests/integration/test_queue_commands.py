"""Queue, take and hand-out commands, tags and case files on both event stores."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from tests.builders import detections
from vigil.application import queues
from vigil.application.case_files import AttachmentPolicy, attach_file, read_file, remove_file
from vigil.application.casework import Casework
from vigil.bootstrap import build_alert_desk
from vigil.domain.case import Priority
from vigil.domain.errors import AlreadyTaken, InvalidCommand, QueueNotFound
from vigil.domain.queue import Assignment, QueueCriteria, QueueKind, QueueRules
from vigil.infrastructure.attachment_store import DiskAttachmentStore
from vigil.infrastructure.settings import Settings

TENANT = "acme"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def three_alerts(desk: Casework) -> list[UUID]:
    found = detections(3, tenant_id=TENANT)
    desk.raise_alerts(found)
    return [d.alert_id for d in found]


@pytest.fixture
def round_robin_queue(desk: Casework) -> UUID:
    rules = QueueRules(QueueCriteria(), 30, Assignment.ROUND_ROBIN, ("ann", "bob"))
    return queues.define_queue(desk, TENANT, "lead", "Cards", QueueKind.ALERTS, rules).id


def test_two_analysts_taking_the_same_alert_at_once_cannot_both_get_it(
    settings: Settings, desk: Casework, three_alerts: list[UUID]
) -> None:
    other_process = build_alert_desk(settings)
    try:
        mine = desk.get_alert(TENANT, three_alerts[0])
        theirs = other_process.get_alert(TENANT, three_alerts[0])
        mine.take("ann", desk.clock())
        theirs.take("bob", desk.clock())
        desk.save(mine)
        with pytest.raises(IntegrityError):
            other_process.save(theirs)
    finally:
        other_process.close()
    assert desk.get_alert(TENANT, three_alerts[0]).assignee == "ann"
    with pytest.raises(AlreadyTaken):
        queues.take_item(desk, TENANT, QueueKind.ALERTS, three_alerts[0], "bob")


def test_a_queue_name_is_taken_once_per_tenant_and_other_tenants_cannot_see_it(
    desk: Casework, round_robin_queue: UUID
) -> None:
    rules = QueueRules(QueueCriteria(), 60, Assignment.MANUAL)
    with pytest.raises(InvalidCommand, match="exists already"):
        queues.define_queue(desk, TENANT, "lead", " cards ", QueueKind.ALERTS, rules)
    with pytest.raises(QueueNotFound):
        queues.get_queue(desk, "globex", round_robin_queue)
    queues.define_queue(desk, "globex", "lead", "Cards", QueueKind.ALERTS, rules)


def test_handing_out_assigns_in_turn_and_leaves_an_item_someone_took_meanwhile(
    desk: Casework, three_alerts: list[UUID], round_robin_queue: UUID
) -> None:
    queues.take_item(desk, TENANT, QueueKind.ALERTS, three_alerts[1], "cy")
    chosen = queues.hand_out(desk, TENANT, round_robin_queue, three_alerts, {})
    assert chosen == {three_alerts[0]: "ann", three_alerts[2]: "bob"}
    assigned = [desk.get_alert(TENANT, a).assignee for a in three_alerts]
    assert assigned == ["ann", "cy", "bob"]
    queue = queues.get_queue(desk, TENANT, round_robin_queue)
    assert queue.last_member == "bob"


def test_tags_on_alerts_and_cases_are_recorded_and_refused_when_repeated(
    desk: Casework, three_alerts: list[UUID]
) -> None:
    assert desk.tag(TENANT, three_alerts[0], "ann", "Mule").tags == {"mule"}
    case = desk.open_case(TENANT, "ann", "Mule ring", Priority.HIGH, three_alerts[:1])
    desk.tag_case(TENANT, case.id, "ann", "mule-ring")
    assert desk.untag_case(TENANT, case.id, "ann", "mule-ring").tags == frozenset()
    with pytest.raises(InvalidCommand, match="already tagged mule"):
        desk.tag(TENANT, three_alerts[0], "bob", "MULE")


def test_a_case_file_is_checked_stored_by_digest_and_read_back_until_removed(
    desk: Casework, three_alerts: list[UUID], tmp_path: Path
) -> None:
    store, policy = DiskAttachmentStore(tmp_path / "files"), AttachmentPolicy(max_bytes=1024)
    case = desk.open_case(TENANT, "ann", "Chargeback", Priority.HIGH, three_alerts[:1])
    upload = ("../../statement.pdf", "application/pdf", PDF)
    attached = attach_file(desk, store, policy, TENANT, case.id, "ann", upload)
    assert (attached.filename, attached.size) == ("statement.pdf", len(PDF))
    assert read_file(desk, store, TENANT, case.id, attached.sha256) == (attached, PDF)
    with pytest.raises(InvalidCommand, match=r"already, as statement\.pdf"):
        attach_file(
            desk, store, policy, TENANT, case.id, "bob", ("copy.pdf", "application/pdf", PDF)
        )
    remove_file(desk, TENANT, case.id, "ann", attached.sha256, "wrong customer")
    with pytest.raises(InvalidCommand, match="has no file"):
        read_file(desk, store, TENANT, case.id, attached.sha256)


@pytest.mark.parametrize(
    ("upload", "field", "reason"),
    [
        (("a.exe", "application/x-msdownload", b"MZ"), "content_type", "is not one of"),
        (("a.pdf", "application/pdf", b"MZ\x90\x00"), "file", "not application/pdf"),
        (("a.txt", "text/plain", b"\xff\xfe\x00binary"), "file", "not text/plain"),
        (("a.txt", "text/plain", b"x" * 2048), "file", "the limit is 1024"),
        (("a.txt", "text/plain", b""), "file", "is empty"),
    ],
)
def test_a_file_that_is_too_big_empty_or_not_what_it_claims_is_refused_and_not_stored(
    desk: Casework,
    three_alerts: list[UUID],
    tmp_path: Path,
    upload: tuple[str, str, bytes],
    field: str,
    reason: str,
) -> None:
    case = desk.open_case(TENANT, "ann", "Chargeback", Priority.HIGH, three_alerts[:1])
    store = DiskAttachmentStore(tmp_path / "files")
    with pytest.raises(InvalidCommand, match=reason) as refused:
        attach_file(desk, store, AttachmentPolicy(1024), TENANT, case.id, "ann", upload)
    assert refused.value.field == field
    assert not (tmp_path / "files").exists()
    assert desk.get_case(TENANT, case.id).attachments == {}
