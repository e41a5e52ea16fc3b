"""Data sources over GraphQL on PostgreSQL and the machine's NATS: documents applied and refused
with their line, the contract's history with who changed it, the dead letters intake kept, their
replay once the contract is fixed, who may do which, and tenants that never see each other."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import yaml
from litestar.testing import AsyncTestClient

from tests.graphql_client import TENANT, data, graphql
from tests.integration.conftest import api_key_of
from tests.integration.source_service import (
    CARDS,
    CARDS_WITH_CHANNEL,
    CUSTOMER,
    card,
    ingest,
    line_of,
    records_on_stream,
    serving_sources,
)
from vigil.application.casework import Casework
from vigil.domain.data_source import data_source_id
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

Project = Callable[[], Awaitable[None]]
OTHER_TENANT = "globex"

APPLY = """
mutation Apply($document: String!, $note: String!) {
  applyDataSource(document: $document, note: $note) {
    __typename
    ... on DataSourcesApplied {
      applied { changed dataSource { name sourceType contractVersion registeredBy changedBy } }
    }
    ... on InvalidDocumentError { field line document message }
  }
}"""

SOURCE = """
query Source($name: String!) {
  dataSource(name: $name) {
    name sourceType description contractVersion registeredBy registeredAt changedBy changedAt
    config schema piiFields document deadLetterCount
    history { contractVersion event actor at note contract }
  }
}"""

SOURCES = "{ dataSources { name sourceType contractVersion changedBy deadLetterCount } }"

LETTERS = """
query Letters($source: String!, $first: Int!, $after: String) {
  deadLetters(source: $source, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    letters { sequence field reason stage origin storedAt size body }
  }
}"""

REPLAY = """
mutation Replay($source: String!) {
  replayDeadLetters(source: $source) {
    __typename
    ... on DeadLettersReplayed { source replayed refusedAgain remaining }
    ... on Error { message }
  }
}"""


@pytest.fixture
def settings(postgres_settings: Settings) -> Settings:
    return postgres_settings


@pytest.fixture
async def served(
    settings: Settings, desk: Casework, read_engine: object
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app connected to NATS, called as the tenant's data engineer unless told otherwise."""
    async with serving_sources(settings, desk) as client:
        client.headers[API_KEY_HEADER] = api_key_of(settings, "dana", "data_engineer")
        yield client


def notifications(desk: Casework) -> int:
    return desk.recorder.max_notification_id() or 0


async def apply(client: AsyncTestClient[Any], document: str, note: str = "") -> dict[str, Any]:
    return (await data(client, APPLY, document=document, note=note))["applyDataSource"]  # type: ignore[no-any-return]


async def source(client: AsyncTestClient[Any], name: str = "cards") -> dict[str, Any] | None:
    return (await data(client, SOURCE, name=name))["dataSource"]  # type: ignore[no-any-return]


async def letters(
    client: AsyncTestClient[Any], first: int = 50, after: str | None = None
) -> dict[str, Any]:
    page = await data(client, LETTERS, source="cards", first=first, after=after)
    return page["deadLetters"]  # type: ignore[no-any-return]


@pytest.fixture
async def cards(served: AsyncTestClient[Any]) -> None:
    """The cards source registered by the data engineer."""
    assert (await apply(served, CARDS))["__typename"] == "DataSourcesApplied"


@pytest.fixture
async def refused_cards(served: AsyncTestClient[Any], cards: None, settings: Settings) -> None:
    """Two records with a field the contract does not know, refused at intake, and one that
    passed."""
    sender = api_key_of(settings, "ingest-bot", "data_engineer")
    batch = [card(1, CHANNEL="web"), card(2), card(3, CHANNEL="pos")]
    assert await ingest(served, sender, batch) == {
        "accepted": 1,
        "deadLettered": 2,
        "errors": [
            {"index": 0, "field": "CHANNEL", "reason": "is not a field of the schema"},
            {"index": 2, "field": "CHANNEL", "reason": "is not a field of the schema"},
        ],
    }


async def test_a_data_engineer_applies_a_document_and_the_log_says_who_did_what(
    served: AsyncTestClient[Any], desk: Casework
) -> None:
    registered = await apply(served, CARDS, "first cut")
    changed = await apply(served, CARDS_WITH_CHANNEL, "channels arrive in March")
    before = notifications(desk)
    again = await apply(served, CARDS_WITH_CHANNEL, "applied on every deploy")

    assert [a["changed"] for r in (registered, changed, again) for a in r["applied"]] == [
        True,
        True,
        False,
    ]
    assert notifications(desk) == before, "an unchanged document records nothing"
    shown = await source(served)
    assert shown is not None
    assert (shown["name"], shown["sourceType"], shown["contractVersion"]) == ("cards", "CSV", 2)
    assert (shown["registeredBy"], shown["changedBy"]) == ("dana", "dana")
    assert [
        (h["contractVersion"], h["event"], h["actor"], h["note"]) for h in shown["history"]
    ] == [
        (1, "Registered", "dana", "first cut"),
        (2, "ContractChanged", "dana", "channels arrive in March"),
    ]
    assert "CHANNEL" not in shown["history"][0]["contract"]["schema"]["properties"]
    assert shown["schema"]["properties"]["CHANNEL"] == {"type": "string"}
    assert shown["piiFields"] == ["CUSTOMER_ID"]
    assert shown["config"]["record_id"] == "TRANSACTION_ID"
    assert yaml.safe_load(shown["document"]) == yaml.safe_load(CARDS_WITH_CHANNEL)
    events = list(desk.events.get(data_source_id(TENANT, "cards")))
    assert [(type(e).__name__, e.actor) for e in events] == [  # type: ignore[attr-defined]
        ("Registered", "dana"),
        ("ContractChanged", "dana"),
    ]


async def test_the_document_a_source_shows_is_one_apply_takes_back_unchanged(
    served: AsyncTestClient[Any], cards: None
) -> None:
    shown = await source(served)
    assert shown is not None

    again = await apply(served, shown["document"])

    assert again["applied"][0]["changed"] is False


BAD_TYPE = CARDS.replace("TX_AMOUNT: {type: number", "TX_AMOUNT: {type: numbr")
NOT_YAML = CARDS.replace("  entity: CUSTOMER_ID\n", "  entity: [CUSTOMER_ID\n")
UNKNOWN_PII = CARDS.replace("pii_fields: [CUSTOMER_ID]", "pii_fields: [CUSTOMER_ID, IBAN]")
SECOND_BAD = CARDS + "---\n" + CARDS.replace("name: cards", "name: Wires")


@pytest.mark.parametrize(
    ("document", "field", "line", "number", "says"),
    [
        (BAD_TYPE, "schema.properties.TX_AMOUNT.type", line_of(BAD_TYPE, "TX_AMOUNT"), 1, "numbr"),
        (NOT_YAML, "document", line_of(NOT_YAML, "event_time:"), 1, "not YAML"),
        (UNKNOWN_PII, "pii_fields[1]", line_of(UNKNOWN_PII, "pii_fields"), 1, "'IBAN'"),
        (SECOND_BAD, "name", line_of(SECOND_BAD, "name: Wires"), 2, "not a source name"),
    ],
    ids=["a-type-json-schema-lacks", "no-yaml", "a-personal-field-not-in-the-schema", "one-of-two"],
)
async def test_a_refused_document_names_its_line_and_field_and_records_nothing(
    served: AsyncTestClient[Any],
    desk: Casework,
    project: Project,
    document: str,
    field: str,
    line: int,
    number: int,
    says: str,
) -> None:
    before = notifications(desk)

    refused = await apply(served, document)

    assert refused["__typename"] == "InvalidDocumentError"
    assert (refused["field"], refused["line"], refused["document"]) == (field, line, number)
    assert says in refused["message"]
    assert refused["message"].startswith(f"line {line}: ")
    assert notifications(desk) == before
    await project()
    assert await source(served) is None
    assert (await data(served, SOURCES))["dataSources"] == []


async def test_an_analyst_reads_sources_but_may_not_apply_or_replay(
    served: AsyncTestClient[Any], settings: Settings, desk: Casework, cards: None
) -> None:
    served.headers[API_KEY_HEADER] = api_key_of(settings, "ann", "analyst")
    before = notifications(desk)

    read = await source(served)
    applied = await graphql(served, APPLY, document=CARDS_WITH_CHANNEL, note="")
    replayed = await graphql(served, REPLAY, source="cards")

    assert read is not None
    assert read["contractVersion"] == 1
    for refused in (applied, replayed):
        (error,) = refused["errors"]
        assert error["extensions"] == {"code": "FORBIDDEN", "permissions": ["sources:manage"]}
    assert notifications(desk) == before


@pytest.mark.usefixtures("refused_cards")
async def test_an_auditor_reads_every_source_and_dead_letter_and_changes_nothing(
    served: AsyncTestClient[Any], settings: Settings, desk: Casework, project: Project
) -> None:
    await project()
    served.headers[API_KEY_HEADER] = api_key_of(settings, "audrey", "auditor")
    before = notifications(desk)

    listed = (await data(served, SOURCES))["dataSources"]
    page = await letters(served)
    applied = await graphql(served, APPLY, document=CARDS_WITH_CHANNEL, note="")
    replayed = await graphql(served, REPLAY, source="cards")

    assert listed == [
        {
            "name": "cards",
            "sourceType": "CSV",
            "contractVersion": 1,
            "changedBy": "dana",
            "deadLetterCount": 2,
        }
    ]
    assert page["totalCount"] == 2
    assert [r["errors"][0]["extensions"]["code"] for r in (applied, replayed)] == [
        "FORBIDDEN",
        "FORBIDDEN",
    ]
    assert notifications(desk) == before
    assert (await letters(served))["totalCount"] == 2


@pytest.mark.usefixtures("refused_cards")
async def test_dead_letters_show_field_reason_and_stage_with_personal_data_tokenised(
    served: AsyncTestClient[Any],
) -> None:
    page = await letters(served)

    assert page["totalCount"] == 2
    assert page["pageInfo"]["hasNextPage"] is False
    assert [(x["field"], x["reason"], x["stage"]) for x in page["letters"]] == [
        ("CHANNEL", "is not a field of the schema", "ingest"),
        ("CHANNEL", "is not a field of the schema", "ingest"),
    ]
    first = page["letters"][0]
    assert re.fullmatch(r"rest:\w+#0", first["origin"])
    assert first["body"]["TRANSACTION_ID"] == 1
    assert first["body"]["CUSTOMER_ID"].startswith("tok_")
    assert str(CUSTOMER) not in str(page)


@pytest.mark.usefixtures("refused_cards")
async def test_dead_letters_come_a_page_at_a_time_after_a_cursor(
    served: AsyncTestClient[Any],
) -> None:
    first = await letters(served, first=1)
    second = await letters(served, first=1, after=first["pageInfo"]["endCursor"])
    bad = await graphql(served, LETTERS, source="cards", first=1, after="not-a-cursor")

    assert (first["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]) == (True, False)
    assert [x["body"]["TRANSACTION_ID"] for x in first["letters"] + second["letters"]] == [1, 3]
    assert second["totalCount"] == 2
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_ARGUMENT", "field": "after"}


@pytest.mark.usefixtures("cards")
async def test_bytes_that_were_never_a_record_are_counted_but_not_shown(
    served: AsyncTestClient[Any], settings: Settings
) -> None:
    raw = b"TRANSACTION_ID=1;CUSTOMER_ID=987654321"
    sender = {API_KEY_HEADER: api_key_of(settings, "ingest-bot", "data_engineer")}
    response = await served.post("/api/v1/ingest/cards", content=raw, headers=sender)
    assert response.status_code == 422

    (letter,) = (await letters(served))["letters"]

    assert (letter["field"], letter["body"], letter["size"]) == ("record", None, len(raw))
    assert "not JSON" in letter["reason"]


@pytest.mark.usefixtures("refused_cards")
async def test_a_replay_after_the_contract_is_fixed_puts_the_letters_on_the_records_stream(
    served: AsyncTestClient[Any], settings: Settings, project: Project
) -> None:
    on_stream = await records_on_stream(settings)
    unfixed = (await data(served, REPLAY, source="cards"))["replayDeadLetters"]
    assert (unfixed["replayed"], unfixed["refusedAgain"], unfixed["remaining"]) == (0, 2, 2)

    await apply(served, CARDS_WITH_CHANNEL, "channels arrive in March")
    fixed = (await data(served, REPLAY, source="cards"))["replayDeadLetters"]
    await project()

    assert fixed == {
        "__typename": "DeadLettersReplayed",
        "source": "cards",
        "replayed": 2,
        "refusedAgain": 0,
        "remaining": 0,
    }
    assert await records_on_stream(settings) == on_stream + 2
    assert (await letters(served))["totalCount"] == 0
    (listed,) = (await data(served, SOURCES))["dataSources"]
    assert (listed["contractVersion"], listed["deadLetterCount"]) == (2, 0)


@pytest.fixture
def other_tenants_admin(settings: Settings) -> str:
    """An API key of another tenant's admin: they may do everything, in their own tenant."""
    return api_key_of(settings, "root", "admin", tenant=OTHER_TENANT)


@pytest.mark.usefixtures("refused_cards")
async def test_another_tenant_sees_none_of_the_tenants_sources_or_dead_letters(
    served: AsyncTestClient[Any], desk: Casework, project: Project, other_tenants_admin: str
) -> None:
    await project()
    served.headers[API_KEY_HEADER] = other_tenants_admin
    before = notifications(desk)

    listed = (await data(served, SOURCES))["dataSources"]
    shown = await source(served)
    page = await graphql(served, LETTERS, source="cards", first=10)
    replayed = (await data(served, REPLAY, source="cards"))["replayDeadLetters"]

    assert (listed, shown) == ([], None)
    assert page["errors"][0]["extensions"] == {"code": "INVALID_ARGUMENT", "field": "source"}
    assert replayed["__typename"] == "NotFoundError"
    assert notifications(desk) == before

    # Their own source of the same name is theirs alone: its letters are not the tenant's.
    await apply(served, CARDS, "ours")
    await project()
    (theirs,) = (await data(served, SOURCES))["dataSources"]
    assert (theirs["changedBy"], theirs["deadLetterCount"]) == ("root", 0)
    assert (await letters(served))["totalCount"] == 0


async def test_without_nats_a_source_reads_but_its_dead_letters_are_unavailable(
    client: AsyncTestClient[Any],
) -> None:
    """The suite's usual app, which never connects to NATS."""
    assert (await apply(client, CARDS))["__typename"] == "DataSourcesApplied"

    shown = await source(client)
    page = await graphql(client, LETTERS, source="cards", first=10)
    replayed = (await data(client, REPLAY, source="cards"))["replayDeadLetters"]

    assert shown is not None
    assert (shown["contractVersion"], shown["deadLetterCount"]) == (1, None)
    assert page["errors"][0]["extensions"]["code"] == "DEAD_LETTERS_UNAVAILABLE"
    assert replayed["__typename"] == "DeadLettersUnavailableError"
