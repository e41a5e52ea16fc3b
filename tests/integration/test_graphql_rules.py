"""Detection rules over GraphQL on SQLite and PostgreSQL: draft versions, move them through their
stages, try them on a record, and queue the alerts a rule fired on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.builders import detection
from tests.graphql_client import ANALYST, TENANT, data, graphql
from vigil.application.casework import Casework

Project = Callable[[], Awaitable[None]]

RESULT = """
    __typename
    ... on RuleSetChanged { ruleSet { publishedVersion versions { number stage } } }
    ... on InvalidInputError { field }
    ... on Error { message }
"""

DRAFT = f"""
mutation Draft($source: String!, $rules: [RuleInput!]!, $note: String!) {{
  draftRules(input: {{source: $source, rules: $rules, note: $note}}) {{ {RESULT} }}
}}"""

STAGE = """
mutation Stage($source: String!, $version: Int!) {{
  {command}(input: {{source: $source, version: $version, reason: "reviewed"}}) {{ {result} }}
}}"""

RULE_SET = """
query RuleSet($source: String!) {
  ruleSet(source: $source) {
    source publishedVersion
    versions {
      number stage note draftedBy draftedAt
      rules { name expression action severity description }
    }
  }
}"""

TRY = """
query Try($source: String!, $record: JSON!, $score: Float!, $model: Severity, $version: Int) {
  tryRules(source: $source, record: $record, score: $score, modelSeverity: $model,
           version: $version) {
    alerts severity hits suppressedBy errors { rule reason }
  }
}"""


def rule(
    name: str, expression: str, action: str, severity: str | None = None, description: str = ""
) -> dict[str, str | None]:
    """A rule as RuleInput takes it and as RuleVersion.rules gives it back."""
    return dict(
        name=name, expression=expression, action=action, severity=severity, description=description
    )


BIG_AMOUNT = rule("big_amount", "TX_AMOUNT > 100 and score > 0.5", "RAISE", "HIGH", "Big, odd")
TRUSTED = rule("trusted_terminal", "TERMINAL_ID == 'ok'", "SUPPRESS")
SMALL = rule("small_amount", "TX_AMOUNT < 5", "GRADE", "MEDIUM")
NIGHT = rule("night", "TERMINAL_ID in ['t-9']", "RAISE", "CRITICAL")
CARD_RULES = [BIG_AMOUNT, TRUSTED, SMALL]
BROKEN = {**BIG_AMOUNT, "name": "broken", "expression": "TX_AMOUNT >> 100"}


async def draft(
    client: AsyncTestClient[Any], rules: list[dict[str, Any]], note: str = "", source: str = "cards"
) -> dict[str, Any]:
    result = await data(client, DRAFT, source=source, rules=rules, note=note)
    return result["draftRules"]  # type: ignore[no-any-return]


async def stage(
    client: AsyncTestClient[Any], command: str, version: int, source: str = "cards"
) -> dict[str, Any]:
    mutation = STAGE.format(command=command, result=RESULT)
    result = await data(client, mutation, source=source, version=version)
    return result[command]  # type: ignore[no-any-return]


async def rule_set(client: AsyncTestClient[Any], source: str = "cards") -> dict[str, Any] | None:
    return (await data(client, RULE_SET, source=source))["ruleSet"]  # type: ignore[no-any-return]


def stages(changed: dict[str, Any]) -> dict[int, str]:
    return {v["number"]: v["stage"] for v in changed["ruleSet"]["versions"]}


@pytest.fixture
async def published_card_rules(client: AsyncTestClient[Any]) -> None:
    """Version 1 of the cards' rules published, and version 2 drafted beside it."""
    await draft(client, CARD_RULES, "first cut")
    await stage(client, "publishRules", 1)
    await draft(client, [NIGHT], "night watch")


@pytest.fixture
async def replaced_card_rules(published_card_rules: None, client: AsyncTestClient[Any]) -> None:
    """Version 2 published, which retired version 1."""
    await stage(client, "publishRules", 2)


async def test_drafting_a_first_version_starts_the_sources_rule_set_with_nothing_published(
    client: AsyncTestClient[Any],
) -> None:
    first = await draft(client, CARD_RULES, "first cut")
    assert first["ruleSet"] == {
        "publishedVersion": None,
        "versions": [{"number": 1, "stage": "DRAFT"}],
    }
    await draft(client, [NIGHT], "night watch")

    listed = await rule_set(client)
    assert listed is not None
    assert (listed["source"], listed["publishedVersion"]) == ("cards", None)
    newest, oldest = listed["versions"]
    assert [(v["number"], v["stage"], v["draftedBy"]) for v in (newest, oldest)] == [
        (2, "DRAFT", ANALYST),
        (1, "DRAFT", ANALYST),
    ]
    assert (oldest["note"], newest["note"]) == ("first cut", "night watch")
    assert oldest["rules"] == CARD_RULES


async def test_publishing_a_version_retires_the_one_it_replaces_in_the_same_command(
    client: AsyncTestClient[Any],
) -> None:
    await draft(client, CARD_RULES)
    published = await stage(client, "publishRules", 1)
    assert (published["ruleSet"]["publishedVersion"], stages(published)) == (1, {1: "PUBLISHED"})

    await draft(client, [NIGHT])
    replaced = await stage(client, "publishRules", 2)
    assert replaced["ruleSet"]["publishedVersion"] == 2
    assert stages(replaced) == {2: "PUBLISHED", 1: "RETIRED"}

    await draft(client, [BIG_AMOUNT])
    shadowed = await stage(client, "shadowRules", 3)
    assert stages(shadowed) == {3: "SHADOW", 2: "PUBLISHED", 1: "RETIRED"}
    retired = await stage(client, "retireRules", 2)
    assert retired["ruleSet"]["publishedVersion"] is None
    assert stages(retired) == {3: "SHADOW", 2: "RETIRED", 1: "RETIRED"}


@pytest.mark.parametrize(
    ("source", "rules", "field", "says"),
    [
        ("cards", [BIG_AMOUNT, BROKEN], "rules[1].expression", "column 12: expected a value"),
        ("wires", [BROKEN], "rules[0].expression", "column 12: expected a value"),
        ("cards", [{**TRUSTED, "severity": "HIGH"}], "rules[0].severity", "gives no severity"),
        ("cards", [BIG_AMOUNT, {**NIGHT, "name": "big_amount"}], "rules[1].name", "is named"),
    ],
    ids=["a-syntax-error", "a-first-draft-that-does-not-parse", "a-loud-suppress", "a-twin"],
)
@pytest.mark.usefixtures("replaced_card_rules")
async def test_a_refused_draft_names_the_field_at_fault_and_records_nothing(
    client: AsyncTestClient[Any], source: str, rules: list[dict[str, Any]], field: str, says: str
) -> None:
    before = await rule_set(client, source)
    refused = await draft(client, rules, source=source)
    assert (refused["__typename"], refused["field"]) == ("InvalidInputError", field)
    assert says in refused["message"]
    assert await rule_set(client, source) == before


@pytest.mark.parametrize(
    ("command", "source", "version", "typename", "says"),
    [
        ("publishRules", "cards", 9, "NotFoundError", "rule set has no version 9"),
        ("publishRules", "cards", 1, "NotAllowedError", "version 1 is retired"),
        ("shadowRules", "cards", 2, "NotAllowedError", "only a draft goes into shadow"),
        ("retireRules", "wires", 1, "NotFoundError", "no rules were drafted for source wires"),
    ],
    ids=["an-unknown-version", "a-retired-version", "a-published-shadow", "a-source-without-rules"],
)
@pytest.mark.usefixtures("replaced_card_rules")
async def test_a_refused_stage_change_is_a_typed_error_and_records_nothing(
    client: AsyncTestClient[Any], command: str, source: str, version: int, typename: str, says: str
) -> None:
    before = await rule_set(client, source)
    refused = await stage(client, command, version, source)
    assert refused["__typename"] == typename
    assert says in refused["message"]
    assert await rule_set(client, source) == before


@pytest.mark.usefixtures("published_card_rules")
async def test_a_source_with_no_rules_drafted_has_no_rule_set(client: AsyncTestClient[Any]) -> None:
    assert await rule_set(client, "wires") is None


async def try_rules(
    client: AsyncTestClient[Any], record: dict[str, Any], **more: Any
) -> dict[str, Any]:
    variables = {"source": "cards", "score": 0.7, "model": None, "version": None, **more}
    return (await data(client, TRY, record=record, **variables))["tryRules"]  # type: ignore[no-any-return]


@pytest.mark.usefixtures("published_card_rules")
async def test_trying_the_published_rules_shows_what_they_would_decide_on_a_record(
    client: AsyncTestClient[Any],
) -> None:
    big = {"TX_AMOUNT": 500, "TERMINAL_ID": "t-1"}
    raised = await try_rules(client, big)
    assert raised == {
        "alerts": True,
        "severity": "HIGH",
        "hits": ["big_amount"],
        "suppressedBy": None,
        "errors": [],
    }
    assert (await try_rules(client, big, score=0.2))["alerts"] is False

    trusted = await try_rules(client, {**big, "TERMINAL_ID": "ok"}, model="CRITICAL")
    assert trusted == {
        "alerts": False,
        "severity": None,
        "hits": ["big_amount", "trusted_terminal"],
        "suppressedBy": "trusted_terminal",
        "errors": [],
    }

    small = await try_rules(client, {"TX_AMOUNT": 2, "TERMINAL_ID": "t-1"}, model="CRITICAL")
    assert (small["alerts"], small["severity"], small["hits"]) == (True, "MEDIUM", ["small_amount"])


@pytest.mark.usefixtures("published_card_rules")
async def test_trying_a_named_draft_decides_with_its_rules_not_the_published_ones(
    client: AsyncTestClient[Any],
) -> None:
    record = {"TX_AMOUNT": 500, "TERMINAL_ID": "t-9"}
    drafted = await try_rules(client, record, version=2)
    assert (drafted["severity"], drafted["hits"]) == ("CRITICAL", ["night"])
    published = await try_rules(client, record)
    assert (published["severity"], published["hits"]) == ("HIGH", ["big_amount"])


@pytest.mark.usefixtures("published_card_rules")
async def test_a_rule_that_cannot_be_evaluated_on_a_record_is_reported_not_failed(
    client: AsyncTestClient[Any],
) -> None:
    tried = await try_rules(client, {"TX_AMOUNT": "lots", "TERMINAL_ID": "t-1"}, model="HIGH")
    assert (tried["alerts"], tried["severity"], tried["hits"]) == (True, "HIGH", [])
    assert [e["rule"] for e in tried["errors"]] == ["big_amount", "small_amount"]
    assert "cannot compare a string with a number" in tried["errors"][0]["reason"]


async def test_trying_rules_where_none_can_decide_is_an_error_naming_the_argument(
    client: AsyncTestClient[Any],
) -> None:
    async def refused(**variables: Any) -> tuple[str, str]:
        asked = {"source": "cards", "record": {"TX_AMOUNT": 1}, "score": 0.5, **variables}
        (error,) = (await graphql(client, TRY, **asked))["errors"]
        return error["extensions"]["field"], error["message"]

    assert await refused() == ("source", "source: no rules were drafted for 'cards'")
    await draft(client, CARD_RULES)
    field, message = await refused()
    assert (field, "no version of 'cards' is published" in message) == ("version", True)
    assert await refused(version=7) == ("version", "version: rule set has no version 7")
    assert (await refused(version=1, record=[1]))[0] == "record"


DEFINE = """
mutation Define($kind: QueueKind!, $rules: [String!]!) {
  defineQueue(input: {name: "By rule", kind: $kind,
                      rules: {criteria: {rules: $rules}, slaMinutes: 30}}) {
    __typename
    ... on QueueChanged { queue { id criteria { rules } } }
    ... on InvalidInputError { field message }
  }
}"""

QUEUES = "{ queues { stats { waiting } } }"

TAKE = """
mutation Take($id: ID!) {
  takeNext(queueId: $id) { __typename ... on ItemTaken { alert { recordId ruleHits } } }
}"""

ALERT = "query One($id: ID!) { alert(id: $id) { recordId ruleHits ruleSetVersion } }"

HITS = {"tx-0": ("big_amount",), "tx-1": ("night", "big_amount"), "tx-2": ("night",), "tx-3": ()}


@pytest.fixture
def alerts_some_rules_fired_on(desk: Casework) -> dict[str, str]:
    """Four alerts raised under rule set version 1, with the hits in HITS; ids by record."""
    found = [
        detection(record, tenant_id=TENANT, rule_hits=hits, rule_set_version=1)
        for record, hits in HITS.items()
    ]
    desk.raise_alerts(found)
    return {d.record_id: str(d.alert_id) for d in found}


@pytest.mark.parametrize(
    ("rules", "waiting"),
    [(["big_amount"], {"tx-0", "tx-1"}), (["big_amount", "night"], {"tx-0", "tx-1", "tx-2"})],
    ids=["one-rule", "any-of-two-rules"],
)
@pytest.mark.usefixtures("alerts_some_rules_fired_on")
async def test_a_rule_queue_holds_only_the_alerts_one_of_its_rules_fired_on(
    client: AsyncTestClient[Any], project: Project, rules: list[str], waiting: set[str]
) -> None:
    defined = (await data(client, DEFINE, kind="ALERTS", rules=rules))["defineQueue"]
    assert defined["queue"]["criteria"]["rules"] == rules
    await project()
    (listed,) = (await data(client, QUEUES))["queues"]
    assert listed["stats"]["waiting"] == len(waiting)

    taken = (await data(client, TAKE, id=defined["queue"]["id"]))["takeNext"]
    assert taken["__typename"] == "ItemTaken"
    assert taken["alert"]["recordId"] in waiting
    assert set(rules) & set(taken["alert"]["ruleHits"])


async def test_an_alert_shows_the_rules_that_fired_on_it_and_the_version_that_decided(
    client: AsyncTestClient[Any], project: Project, alerts_some_rules_fired_on: dict[str, str]
) -> None:
    await project()
    for record in ("tx-1", "tx-3"):
        shown = (await data(client, ALERT, id=alerts_some_rules_fired_on[record]))["alert"]
        assert shown == {"recordId": record, "ruleHits": list(HITS[record]), "ruleSetVersion": 1}


async def test_a_queue_on_a_bad_rule_name_or_a_case_queue_on_rules_is_refused(
    client: AsyncTestClient[Any],
) -> None:
    bad = (await data(client, DEFINE, kind="ALERTS", rules=["Big Amount"]))["defineQueue"]
    assert (bad["__typename"], bad["field"]) == ("InvalidInputError", "rules")
    assert "'Big Amount' is not a rule name" in bad["message"]
    cases = (await data(client, DEFINE, kind="CASES", rules=["big_amount"]))["defineQueue"]
    assert (cases["__typename"], cases["field"]) == ("InvalidInputError", "criteria")
    assert (await data(client, QUEUES))["queues"] == []


# Names typed with spaces around them mean the same source and rule. ------------------------


async def test_a_source_typed_with_a_trailing_space_takes_its_next_draft(
    client: AsyncTestClient[Any],
) -> None:
    await draft(client, CARD_RULES, source="wires ")
    again = await draft(client, [NIGHT], source="wires ")
    assert again["__typename"] == "RuleSetChanged"


@pytest.mark.usefixtures("alerts_some_rules_fired_on")
async def test_a_rule_queue_typed_with_a_space_before_the_rule_still_holds_its_alerts(
    client: AsyncTestClient[Any], project: Project
) -> None:
    await data(client, DEFINE, kind="ALERTS", rules=[" big_amount"])
    await project()
    (listed,) = (await data(client, QUEUES))["queues"]
    assert listed["stats"]["waiting"] == 2
