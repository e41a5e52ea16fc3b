"""Escalation policies over GraphQL on both stores: admins apply, disable and enable them, with
refusals that name the field; analysts and auditors read them; another tenant sees none; and an
escalation on an alert's timeline names the policy, the step and whom it told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.builders import detection
from tests.graphql_client import TENANT, data, graphql
from tests.integration.conftest import api_key_of
from vigil.application.casework import Casework
from vigil.application.escalation_timer import EscalationTimer
from vigil.domain.alert import Severity
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "card_escalations.yaml"

APPLY = """
mutation Apply($document: String!, $note: String! = "") {
  applyEscalationPolicy(document: $document, note: $note) {
    __typename
    ... on EscalationPoliciesApplied { applied { changed policy { name revision enabled } } }
    ... on InvalidDocumentError { field line document message }
  }
}"""

POLICY = """
query Policy($name: String!) {
  escalationPolicy(name: $name) {
    name description enabled revision definedBy changedBy stopWhen definition
    steps { after afterMinutes notify repeatEvery repeatTimes }
    history { event actor at why revision }
  }
}"""

POLICIES = "{ escalationPolicies { name enabled revision } }"

SWITCH = """
mutation Switch($name: String!, $reason: String!) {
  %s(name: $name, reason: $reason) {
    __typename
    ... on EscalationPolicySwitched { policy { name enabled } }
    ... on InvalidInputError { field }
    ... on Error { message }
  }
}"""
DISABLE = SWITCH % "disableEscalationPolicy"
ENABLE = SWITCH % "enableEscalationPolicy"


async def apply(client: AsyncTestClient[Any], document: str, note: str = "") -> dict[str, Any]:
    return (await data(client, APPLY, document=document, note=note))["applyEscalationPolicy"]  # type: ignore[no-any-return]


def as_user(
    client: AsyncTestClient[Any], settings: Settings, name: str, role: str, **kw: str
) -> None:
    client.headers[API_KEY_HEADER] = api_key_of(settings, name, role, **kw)


async def test_an_admin_applies_disables_and_enables_a_policy_with_its_history(
    client: AsyncTestClient[Any],
) -> None:
    applied = await apply(client, EXAMPLE.read_text(), note="from the handbook")
    assert applied["__typename"] == "EscalationPoliciesApplied"
    assert [(a["changed"], a["policy"]["name"]) for a in applied["applied"]] == [
        (True, "cards-critical"),
        (True, "cards-high-amount"),
    ]
    assert [a["changed"] for a in (await apply(client, EXAMPLE.read_text()))["applied"]] == [
        False,
        False,
    ]
    disabled = await data(client, DISABLE, name="cards-critical", reason="paging storm")
    assert disabled["disableEscalationPolicy"] == {
        "__typename": "EscalationPolicySwitched",
        "policy": {"name": "cards-critical", "enabled": False},
    }
    await data(client, ENABLE, name="cards-critical", reason="storm over")

    policy = (await data(client, POLICY, name="cards-critical"))["escalationPolicy"]
    assert (policy["enabled"], policy["revision"], policy["stopWhen"]) == (
        True,
        1,
        ["acknowledged", "linked_to_case", "resolved", "dismissed"],
    )
    assert [(s["after"], s["notify"]) for s in policy["steps"]] == [
        ("0m", ["on-call"]),
        ("15m", ["team-lead"]),
    ]
    assert policy["definition"]["match"] == {
        "severity": {"at_least": "critical"},
        "sources": ["cards"],
    }
    assert [(h["event"], h["why"]) for h in policy["history"]] == [
        ("Defined", "from the handbook"),
        ("Disabled", "paging storm"),
        ("Enabled", "storm over"),
    ]
    assert {h["actor"] for h in policy["history"]} == {policy["definedBy"]}
    listed = (await data(client, POLICIES))["escalationPolicies"]
    assert [p["name"] for p in listed] == ["cards-critical", "cards-high-amount"]


async def test_a_refused_document_names_its_line_and_field_and_records_nothing(
    client: AsyncTestClient[Any], desk: Casework
) -> None:
    before = desk.recorder.max_notification_id()
    text = EXAMPLE.read_text() + "---\nname: cards-slow\nsteps:\n  - after: soon\n    notify: [x]\n"
    refused = await apply(client, text)
    assert refused["__typename"] == "InvalidDocumentError"
    assert (refused["field"], refused["document"]) == ("steps[0].after", 3)
    assert refused["line"] == len(EXAMPLE.read_text().splitlines()) + 4
    assert desk.recorder.max_notification_id() == before
    assert (await data(client, POLICIES))["escalationPolicies"] == []


async def test_switching_a_policy_refuses_by_the_field_at_fault(
    client: AsyncTestClient[Any],
) -> None:
    await apply(client, EXAMPLE.read_text())
    unknown = (await data(client, DISABLE, name="nope", reason="x"))["disableEscalationPolicy"]
    assert unknown["__typename"] == "NotFoundError"
    enabled = await data(client, ENABLE, name="cards-critical", reason="x")
    assert enabled["enableEscalationPolicy"]["__typename"] == "InvalidInputError"
    assert enabled["enableEscalationPolicy"]["field"] == "name"
    no_reason = await data(client, DISABLE, name="cards-critical", reason=" ")
    assert no_reason["disableEscalationPolicy"]["field"] == "reason"


async def test_analysts_and_auditors_read_policies_but_may_not_change_them(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await apply(client, EXAMPLE.read_text())
    for name, role in (("ann", "analyst"), ("audrey", "auditor")):
        as_user(client, settings, name, role)
        assert len((await data(client, POLICIES))["escalationPolicies"]) == 2
        for mutation, variables in (
            (APPLY, {"document": EXAMPLE.read_text()}),
            (DISABLE, {"name": "cards-critical", "reason": "x"}),
        ):
            body = await graphql(client, mutation, **variables)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    as_user(client, settings, "dan", "data_engineer")
    body = await graphql(client, POLICIES)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenant_sees_no_policy_and_cannot_switch_one(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await apply(client, EXAMPLE.read_text())
    as_user(client, settings, "olga", "admin", tenant="globex")
    assert (await data(client, POLICIES))["escalationPolicies"] == []
    assert (await data(client, POLICY, name="cards-critical"))["escalationPolicy"] is None
    switched = await data(client, DISABLE, name="cards-critical", reason="mine now")
    assert switched["disableEscalationPolicy"]["__typename"] == "NotFoundError"


async def test_an_escalation_on_the_alerts_timeline_names_its_policy_step_and_whom_it_told(
    client: AsyncTestClient[Any], desk: Casework, project: Any
) -> None:
    await apply(client, EXAMPLE.read_text())
    found = detection("tx-critical", tenant_id=TENANT, severity=Severity.CRITICAL)
    desk.raise_alerts([found])
    assert EscalationTimer(desk).beat().escalations == 1
    await project()

    query = """query($id: ID!) { alert(id: $id) { escalationLevel timeline {
        event escalation { level policy stepAfter occurrence notify reason } } } }"""
    alert = (await data(client, query, id=str(found.alert_id)))["alert"]
    assert alert["escalationLevel"] == 1
    raised, escalated = [e for e in alert["timeline"] if e["event"] in ("Raised", "Escalated")]
    assert raised["escalation"] is None
    assert [escalated["escalation"]] == [
        {
            "level": 1,
            "policy": "cards-critical",
            "stepAfter": "0m",
            "occurrence": 1,
            "notify": ["on-call"],
            "reason": "policy cards-critical, step 1 (at 0m): notify on-call",
        },
    ]
