"""Cases over GraphQL on SQLite and PostgreSQL: open from alerts, close into labels, list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.builders import detections
from tests.graphql_client import TENANT, data
from vigil.application.casework import Casework
from vigil.domain.case import Priority
from vigil.domain.label import LabelSource, SubjectKind, Verdict

OPEN = """
mutation Open($ids: [ID!]!) {
  openCase(input: {alertIds: $ids, title: "Stolen card", priority: HIGH}) {
    __typename
    ... on CaseChanged { case { id status priority alertCount } }
    ... on Error { message }
  }
}"""

CLOSE = """
mutation Close($id: ID!) {
  closeCase(input: {caseId: $id, disposition: CONFIRMED_FRAUD, summary: "Cardholder confirmed"}) {
    __typename
    ... on CaseChanged { case { status disposition summary closedAt } }
    ... on Error { message }
  }
}"""

CASE = """
query One($id: ID!) {
  case(id: $id) {
    status disposition alertCount
    alerts { recordId }
    timeline { event actor }
  }
}"""

CASES = "{ cases(first: 10) { totalCount edges { node { id title } } } }"

Project = Callable[[], Awaitable[None]]


@pytest.fixture
def three_raised_alerts(desk: Casework) -> list[str]:
    """Three of the tenant's alerts, just raised, by their GraphQL ids."""
    found = detections(3, tenant_id=TENANT)
    desk.raise_alerts(found)
    return [str(d.alert_id) for d in found]


async def test_an_analyst_opens_a_case_from_alerts_and_closes_it_into_labels(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    found = detections(2, tenant_id=TENANT)
    desk.raise_alerts(found)
    ids = [str(d.alert_id) for d in found]

    opened = (await data(client, OPEN, ids=ids))["openCase"]
    assert opened["__typename"] == "CaseChanged"
    assert (opened["case"]["status"], opened["case"]["alertCount"]) == ("OPEN", 2)
    case_id = opened["case"]["id"]

    again = (await data(client, OPEN, ids=ids[:1]))["openCase"]
    assert again["__typename"] == "NotAllowedError"
    assert "already in case" in again["message"]

    closed = (await data(client, CLOSE, id=case_id))["closeCase"]
    assert closed["__typename"] == "CaseChanged"
    assert (closed["case"]["status"], closed["case"]["disposition"]) == (
        "CLOSED",
        "CONFIRMED_FRAUD",
    )
    label = desk.get_label(TENANT, ("cards", SubjectKind.RECORD, "tx-0"))
    assert label is not None
    assert label.verdict is Verdict.FRAUD

    await project()
    case = (await data(client, CASE, id=case_id))["case"]
    assert (case["status"], case["alertCount"]) == ("CLOSED", 2)
    assert sorted(a["recordId"] for a in case["alerts"]) == ["tx-0", "tx-1"]
    assert [e["event"] for e in case["timeline"]] == ["Opened", "Closed"]
    listed = (await data(client, CASES))["cases"]
    assert listed["totalCount"] == 1


CASE_LABELS = """
query Labels($id: ID!) { case(id: $id) { labels { kind subjectId verdict labelSource } } }
"""


async def test_a_case_shows_the_verdicts_on_its_records_and_their_customers(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    found = detections(3, tenant_id=TENANT)  # customers 0, 1 and 2
    desk.raise_alerts(found)
    opened = desk.open_case(TENANT, "ann", "Two", Priority.HIGH, [d.alert_id for d in found[:2]])
    for subject, verdict in (
        (("cards", SubjectKind.RECORD, "tx-1"), Verdict.FRAUD),
        (("cards", SubjectKind.RECORD, "tx-2"), Verdict.FRAUD),  # not in the case
        (("cards", SubjectKind.ENTITY, "customer-0"), Verdict.LEGIT),
    ):
        desk.label(TENANT, "ann", subject, verdict, LabelSource.ANALYST)
    await project()

    labels = (await data(client, CASE_LABELS, id=str(opened.id)))["case"]["labels"]

    assert labels == [
        {"kind": "RECORD", "subjectId": "tx-1", "verdict": "FRAUD", "labelSource": "ANALYST"},
        {"kind": "ENTITY", "subjectId": "customer-0", "verdict": "LEGIT", "labelSource": "ANALYST"},
    ]


async def test_closing_a_case_twice_or_one_that_does_not_exist_is_a_typed_error(
    client: AsyncTestClient[Any], desk: Casework
) -> None:
    (found,) = detections(1, tenant_id=TENANT)
    desk.raise_alerts([found])
    case_id = (await data(client, OPEN, ids=[str(found.alert_id)]))["openCase"]["case"]["id"]
    await data(client, CLOSE, id=case_id)

    twice = (await data(client, CLOSE, id=case_id))["closeCase"]
    assert twice["__typename"] == "NotAllowedError"
    assert "closed" in twice["message"]
    missing = (await data(client, CLOSE, id="00000000-0000-0000-0000-000000000009"))["closeCase"]
    assert missing["__typename"] == "NotFoundError"


async def test_another_tenants_alerts_cannot_be_put_in_a_case(
    client: AsyncTestClient[Any], desk: Casework
) -> None:
    (theirs,) = detections(1, tenant_id="globex")
    desk.raise_alerts([theirs])
    refused = (await data(client, OPEN, ids=[str(theirs.alert_id)]))["openCase"]
    assert refused["__typename"] == "NotFoundError"


WORK = """
mutation Work($id: ID!, $extra: ID!, $first: ID!) {
  assignCase(input: {caseId: $id, assignee: "ann"}) { __typename }
  changeCaseStatus(input: {caseId: $id, status: INVESTIGATING}) { __typename }
  commentOnCase(input: {caseId: $id, text: "Called the cardholder"}) { __typename }
  attachAlertToCase(input: {caseId: $id, alertId: $extra}) { __typename }
  detachAlertFromCase(input: {caseId: $id, alertId: $first}) { __typename }
  pending: changeCaseStatus(input: {caseId: $id, status: PENDING_INFO, reason: "bank"}) {
    __typename ... on CaseChanged { case { status assignee commentCount alertCount } }
  }
  skip: changeCaseStatus(input: {caseId: $id, status: OPEN}) {
    __typename ... on Error { message }
  }
}"""

REOPEN = """
mutation Reopen($id: ID!) {
  reopenCase(input: {caseId: $id, reason: "Chargeback arrived"}) {
    __typename ... on CaseChanged { case { status disposition } }
  }
}"""


async def test_every_case_command_is_a_mutation_with_a_typed_result(
    client: AsyncTestClient[Any], three_raised_alerts: list[str]
) -> None:
    first, second, extra = three_raised_alerts
    case_id = (await data(client, OPEN, ids=[first, second]))["openCase"]["case"]["id"]

    worked = await data(client, WORK, id=case_id, extra=extra, first=first)
    assert {name: result["__typename"] for name, result in worked.items()} == {
        "assignCase": "CaseChanged",
        "changeCaseStatus": "CaseChanged",
        "commentOnCase": "CaseChanged",
        "attachAlertToCase": "CaseChanged",
        "detachAlertFromCase": "CaseChanged",
        "pending": "CaseChanged",
        "skip": "NotAllowedError",
    }
    assert worked["pending"]["case"] == {
        "status": "PENDING_INFO",
        "assignee": "ann",
        "commentCount": 1,
        "alertCount": 2,
    }
    assert "cannot go from pending_info to open" in worked["skip"]["message"]

    await data(client, CLOSE, id=case_id)
    reopened = (await data(client, REOPEN, id=case_id))["reopenCase"]
    assert reopened["case"] == {"status": "INVESTIGATING", "disposition": None}


ACT = """
mutation Act($id: ID!, $action: AlertAction!, $text: String!) {
  actOnAlert(action: $action, input: {alertId: $id, text: $text}) {
    __typename
    ... on AlertChanged { alert { status assignee escalationLevel } }
    ... on Error { message }
  }
}"""

BULK = """
mutation Bulk($ids: [ID!]!) {
  actOnAlerts(action: ACKNOWLEDGE, alertIds: $ids, text: "triaged") {
    applied refused { alertId message }
  }
}"""


async def test_each_alert_action_and_the_bulk_ones_answer_with_typed_results(
    client: AsyncTestClient[Any], three_raised_alerts: list[str]
) -> None:
    first, second, third = three_raised_alerts

    assigned = (await data(client, ACT, id=first, action="ASSIGN", text="bob"))["actOnAlert"]
    assert assigned["alert"]["assignee"] == "bob"
    escalated = await data(client, ACT, id=first, action="ESCALATE", text="big amount")
    assert escalated["actOnAlert"]["alert"]["escalationLevel"] == 1
    resolved = await data(client, ACT, id=second, action="RESOLVE", text="refunded")
    assert resolved["actOnAlert"]["alert"]["status"] == "RESOLVED"
    closed = await data(client, ACT, id=second, action="COMMENT", text="late note")
    assert closed["actOnAlert"]["__typename"] == "AlertClosedError"

    bulk = (await data(client, BULK, ids=[first, second, third, "nonsense"]))["actOnAlerts"]
    assert sorted(bulk["applied"]) == sorted([first, third])
    assert {r["alertId"] for r in bulk["refused"]} == {second, "nonsense"}


LABEL = """
mutation Label($subject: String!, $verdict: Verdict!) {
  labelSubject(input: {subject: {source: "cards", kind: RECORD, subjectId: $subject},
                       verdict: $verdict, labelSource: CHARGEBACK, note: "CB-2291"}) {
    __typename
    ... on LabelChanged { label { verdict labelSource labelledBy provenance } }
    ... on Error { message }
  }
}"""

REVOKE = """
mutation Revoke($subject: String!) {
  revokeLabel(input: {subject: {source: "cards", kind: RECORD, subjectId: $subject},
                      reason: "wrong transaction"}) {
    __typename ... on LabelChanged { label { verdict } } ... on Error { message }
  }
}"""

LABELS = """
query Labels($verdict: Verdict) { labels(verdict: $verdict) { subjectId verdict labelSource } }
"""


async def test_labels_are_given_revoked_and_listed_over_graphql(
    client: AsyncTestClient[Any], project: Project
) -> None:
    given = (await data(client, LABEL, subject="tx-7", verdict="FRAUD"))["labelSubject"]
    assert given["label"] == {
        "verdict": "FRAUD",
        "labelSource": "CHARGEBACK",
        "labelledBy": "demo-analyst",
        "provenance": {"note": "CB-2291"},
    }
    await data(client, LABEL, subject="tx-8", verdict="LEGIT")
    await data(client, LABEL, subject="tx-9", verdict="FRAUD")
    revoked = (await data(client, REVOKE, subject="tx-9"))["revokeLabel"]
    assert revoked["label"] == {"verdict": None}
    never = (await data(client, REVOKE, subject="tx-404"))["revokeLabel"]
    assert never["__typename"] == "NotAllowedError"

    await project()
    fraud = (await data(client, LABELS, verdict="FRAUD"))["labels"]
    assert fraud == [{"subjectId": "tx-7", "verdict": "FRAUD", "labelSource": "CHARGEBACK"}]
    everything = (await data(client, LABELS))["labels"]
    assert {row["subjectId"] for row in everything} == {"tx-7", "tx-8"}


ENTITY = """
query Entity($id: String!) {
  entity(id: $id) {
    id alertCount openCaseCount
    alerts { recordId }
    cases { title status }
    labels { kind subjectId verdict }
  }
}"""


async def test_an_entity_shows_its_alerts_cases_and_labels(
    client: AsyncTestClient[Any], desk: Casework, project: Project
) -> None:
    found = detections(4, tenant_id=TENANT)  # customers 0, 1, 2, 0
    desk.raise_alerts(found)
    mine = [d for d in found if d.entity_id == "customer-0"]
    desk.open_case(TENANT, "ann", "Customer 0", Priority.HIGH, [mine[0].alert_id])
    desk.label(
        TENANT,
        "ann",
        ("cards", SubjectKind.ENTITY, "customer-0"),
        Verdict.FRAUD,
        LabelSource.ANALYST,
    )
    desk.label(
        TENANT, "ann", ("cards", SubjectKind.RECORD, "tx-3"), Verdict.FRAUD, LabelSource.ANALYST
    )
    desk.label(
        TENANT, "ann", ("cards", SubjectKind.RECORD, "tx-1"), Verdict.LEGIT, LabelSource.ANALYST
    )
    await project()

    entity = (await data(client, ENTITY, id="customer-0"))["entity"]
    assert (entity["alertCount"], entity["openCaseCount"]) == (2, 1)
    assert sorted(a["recordId"] for a in entity["alerts"]) == ["tx-0", "tx-3"]
    assert entity["cases"] == [{"title": "Customer 0", "status": "OPEN"}]
    assert sorted((lb["kind"], lb["subjectId"]) for lb in entity["labels"]) == [
        ("ENTITY", "customer-0"),
        ("RECORD", "tx-3"),
    ]
    assert (await data(client, ENTITY, id="nobody"))["entity"] is None
