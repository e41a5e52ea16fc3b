"""The web app as `vigil serve` assembles it for data sources: intake and the dead letters
connected to the machine's NATS as the app starts, the cards document and its variations, and
what the records stream holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.integration.ingest_service import raw_records_on, serving_ingest
from vigil.application.casework import Casework
from vigil.application.records import records_in
from vigil.bootstrap import open_streams
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

CARDS = (Path(__file__).resolve().parents[2] / "examples" / "sources" / "cards.yaml").read_text()
"""The demo's document, as `vigil sources apply` takes it."""

CARDS_WITH_CHANNEL = CARDS.replace(
    "    TX_FRAUD_SCENARIO: {type: integer}\n",
    "    TX_FRAUD_SCENARIO: {type: integer}\n    CHANNEL: {type: string}\n",
)
"""The next version: records say which channel they came through."""

CUSTOMER = 987654321
"""A cardholder's id: personal, so it must never be shown in clear."""


def card(transaction_id: int, **fields: Any) -> dict[str, Any]:
    """A transaction the cards contract accepts, unless `fields` break it."""
    return {
        "TRANSACTION_ID": transaction_id,
        "TX_DATETIME": "2018-04-01 00:00:31",
        "CUSTOMER_ID": CUSTOMER,
        "TERMINAL_ID": 3156,
        "TX_AMOUNT": 57.16,
        **fields,
    }


def line_of(text: str, start: str) -> int:
    """The number of the text's first line that starts (past its indent) with `start`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start))


@asynccontextmanager
async def serving_sources(
    settings: Settings, desk: Casework
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app with REST ingest, GraphQL and the console, its NATS connection made on the app's
    own event loop as it starts."""
    async with serving_ingest(settings, desk=desk) as client:
        yield client


async def ingest(
    client: AsyncTestClient[Any], key: str, records: list[Any], source: str = "cards"
) -> dict[str, Any]:
    """Posts a batch to REST ingest as the key's holder; what intake answered."""
    response = await client.post(
        f"/api/v1/ingest/{source}", json=records, headers={API_KEY_HEADER: key}
    )
    assert response.status_code in (202, 422), response.text
    answer: dict[str, Any] = response.json()
    return answer


async def records_on_stream(settings: Settings) -> int:
    """How many records the test's RECORDS stream holds, from every source and tenant."""
    async with open_streams(settings, "test-records") as streams:
        return sum(map(records_in, await raw_records_on(streams, ">")))
