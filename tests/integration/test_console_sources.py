"""The console's data sources on PostgreSQL and the machine's NATS: the list, a source's page
with its document, history and dead letters, the Replay form and the form that applies a
document, each form behind its CSRF token; who sees which; and tenants kept apart."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.console_client import csrf_token, sign_in
from tests.integration.conftest import PASSWORD, api_key_of
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
from vigil.infrastructure.settings import Settings
from vigil.web.source_pages import DEAD_LETTER_PAGE

pytestmark = [pytest.mark.postgres, pytest.mark.nats]

Project = Callable[[], Awaitable[None]]


@pytest.fixture
def settings(postgres_settings: Settings) -> Settings:
    return postgres_settings


@pytest.fixture
def ingest_key(settings: Settings) -> str:
    return api_key_of(settings, "ingest-bot", "data_engineer")


@pytest.fixture
async def browser(
    settings: Settings, desk: Casework, read_engine: object
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The console connected to NATS, signed in as the tenant's data engineer."""
    api_key_of(settings, "dana", "data_engineer")
    async with serving_sources(settings, desk) as client:
        assert (await sign_in(client, "dana", PASSWORD)).status_code == 303
        yield client


async def apply_form(
    browser: AsyncTestClient[Any], document: str, note: str = "", token: str | None = None
) -> Any:
    token = token or await csrf_token(browser, "/source-documents/new")
    form = {"document": document, "note": note, "_csrf_token": token}
    return await browser.post("/source-documents", data=form, follow_redirects=False)


@pytest.fixture
async def cards(browser: AsyncTestClient[Any]) -> None:
    applied = await apply_form(browser, CARDS, "first cut")
    assert (applied.status_code, applied.headers["location"]) == (303, "/sources/cards")


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


async def test_applying_a_document_through_the_form_registers_the_source_and_shows_it(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    form = await browser.get("/source-documents/new")
    applied = await apply_form(browser, CARDS, "first cut")
    page = await browser.get(applied.headers["location"])

    assert form.status_code == 200
    assert '<textarea id="document" name="document"' in form.text
    assert (applied.status_code, applied.headers["location"]) == (303, "/sources/cards")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "contract version 1" in shown
    assert re.search(r"1\s+Registered\s+dana\s+\S+ \S+\s+first cut", shown)
    assert "record_id: TRANSACTION_ID" in shown
    assert "pii_fields:\n- CUSTOMER_ID" in shown


async def test_the_apply_form_without_its_csrf_token_is_refused_and_records_nothing(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    before = desk.recorder.max_notification_id()

    response = await browser.post("/source-documents", data={"document": CARDS})

    assert response.status_code == 403
    assert desk.recorder.max_notification_id() == before


async def test_a_refused_document_is_shown_again_with_the_line_and_field_next_to_it(
    browser: AsyncTestClient[Any], desk: Casework
) -> None:
    bad = CARDS.replace("TX_AMOUNT: {type: number", "TX_AMOUNT: {type: numbr")
    line = line_of(bad, "TX_AMOUNT")
    before = desk.recorder.max_notification_id()

    response = await apply_form(browser, bad, "typo")

    assert response.status_code == 422
    error = re.search(r'<p class="error" id="document-error"[^>]*>(.*?)</p>', response.text, re.S)
    assert error is not None
    said = " ".join(text_of(error.group(1)).split())
    assert re.match(rf"line {line} , schema\.properties\.TX_AMOUNT\.type : 'numbr'", said), said
    assert "numbr" in unescape(response.text.split("<textarea", 1)[1].split("</textarea>")[0])
    assert f'<li id="line-{line}" class="fault"' in response.text
    assert 'value="typo"' in response.text
    assert desk.recorder.max_notification_id() == before


@pytest.mark.usefixtures("cards")
async def test_the_form_to_change_a_source_holds_its_current_document(
    browser: AsyncTestClient[Any],
) -> None:
    page = await browser.get("/source-documents/new", params={"source": "cards"})

    held = unescape(page.text.split("<textarea", 1)[1].split(">", 1)[1].split("</textarea>")[0])
    again = await apply_form(browser, held)

    assert "name: cards" in held
    assert again.status_code == 303
    assert "contract version 1" in (await browser.get("/sources/cards")).text


@pytest.mark.usefixtures("cards")
async def test_the_list_shows_each_source_with_its_contract_version_and_dead_letters(
    browser: AsyncTestClient[Any], ingest_key: str, project: Project
) -> None:
    await ingest(browser, ingest_key, [card(1, CHANNEL="web"), card(2)])
    await project()

    page = await browser.get("/sources")

    assert page.status_code == 200
    assert '<a href="/sources/cards">cards</a>' in page.text
    found = re.search(r'<tr>\s*<td><a href="/sources/cards">.*?</tr>', page.text, re.S)
    assert found is not None
    row = " ".join(text_of(found.group(0)).split())
    assert row.startswith("cards Card-present transactions, one row per authorisation. csv 1 dana")
    assert row.endswith(" 1"), "one dead letter"
    assert '<a href="/sources" aria-current="page">Data sources</a>' in page.text
    assert ">Alert queue<" not in page.text, "a data engineer has no alert queue"


@pytest.mark.usefixtures("cards")
async def test_a_sources_page_lists_its_dead_letters_a_page_at_a_time_without_personal_data(
    browser: AsyncTestClient[Any], ingest_key: str
) -> None:
    refused = [card(n, CHANNEL="web") for n in range(DEAD_LETTER_PAGE + 2)]
    await ingest(browser, ingest_key, refused)

    first = await browser.get("/sources/cards")
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert next_link is not None
    second = await browser.get(unescape(next_link.group(1)).split("#")[0])

    rows = re.findall(
        r"<td><code>CHANNEL</code></td>\s*<td>is not a field of the schema</td>", first.text
    )
    assert len(rows) == DEAD_LETTER_PAGE
    assert len(re.findall(r"<code>CHANNEL</code>", second.text)) == 2
    assert "<td>ingest</td>" in first.text
    assert "tok_" in first.text
    assert str(CUSTOMER) not in first.text + second.text
    assert "First page" in second.text


@pytest.mark.usefixtures("cards")
async def test_replaying_after_the_contract_is_fixed_empties_the_dead_letters(
    browser: AsyncTestClient[Any], ingest_key: str, settings: Settings
) -> None:
    await ingest(browser, ingest_key, [card(1, CHANNEL="web"), card(2, CHANNEL="pos")])
    on_stream = await records_on_stream(settings)
    assert (await apply_form(browser, CARDS_WITH_CHANNEL, "channels")).status_code == 303
    token = await csrf_token(browser, "/sources/cards")

    forged = await browser.post("/sources/cards/replay", data={})
    replayed = await browser.post("/sources/cards/replay", data={"_csrf_token": token})

    assert forged.status_code == 403
    assert replayed.status_code == 200
    assert "Replayed 2; 0 refused again; 0 left." in replayed.text
    assert await records_on_stream(settings) == on_stream + 2
    assert "Nothing refused" in (await browser.get("/sources/cards")).text


@pytest.mark.usefixtures("cards")
async def test_an_auditor_reads_a_source_but_gets_no_form_and_may_not_replay(
    browser: AsyncTestClient[Any], settings: Settings, ingest_key: str
) -> None:
    await ingest(browser, ingest_key, [card(1, CHANNEL="web")])
    token = await csrf_token(browser, "/sources/cards")
    api_key_of(settings, "audrey", "auditor")
    await sign_in(browser, "audrey", PASSWORD)

    page = await browser.get("/sources/cards")
    listed = await browser.get("/sources")
    replay = await browser.post("/sources/cards/replay", data={"_csrf_token": token})
    form = await browser.get("/source-documents/new")

    assert page.status_code == 200
    assert "<code>CHANNEL</code>" in page.text
    assert "/sources/cards/replay" not in page.text
    assert "Change the document" not in page.text
    assert "Apply a document" not in listed.text
    assert (replay.status_code, form.status_code) == (403, 403)


@pytest.mark.usefixtures("cards")
async def test_an_analyst_finds_the_data_sources_beside_the_alert_queue(
    browser: AsyncTestClient[Any], settings: Settings
) -> None:
    api_key_of(settings, "ann", "analyst")
    await sign_in(browser, "ann", PASSWORD)

    page = await browser.get("/sources")

    assert ">Alert queue<" in page.text
    assert ">Data sources<" in page.text


@pytest.mark.usefixtures("cards")
async def test_another_tenants_user_finds_none_of_the_tenants_sources(
    browser: AsyncTestClient[Any], settings: Settings, ingest_key: str, project: Project
) -> None:
    await ingest(browser, ingest_key, [card(1, CHANNEL="web")])
    await project()
    api_key_of(settings, "gina", "data_engineer", tenant="globex")
    await sign_in(browser, "gina", PASSWORD, tenant="globex")

    listed = await browser.get("/sources")
    detail = await browser.get("/sources/cards")
    token = await csrf_token(browser, "/sources")
    replay = await browser.post("/sources/cards/replay", data={"_csrf_token": token})

    assert "No data source is registered yet." in listed.text
    assert (detail.status_code, replay.status_code) == (404, 404)
