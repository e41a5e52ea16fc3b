"""The web app with ingestion connected to the machine's NATS, the cards contract applied, and
what the tests read back from its streams: records and dead letters, as JetStream keeps them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tests.integration.conftest import api_key_of
from vigil.application.casework import Casework
from vigil.application.dead_letters import StoredDeadLetter
from vigil.application.records import RecordEnvelope, unpack_records
from vigil.bootstrap import (
    Streams,
    WebIntake,
    build_alert_desk,
    build_identity,
    build_read_engine,
    build_read_models,
)
from vigil.cli_sources import apply_file
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.infrastructure.settings import IngestSettings, Settings, pii_token_key
from vigil.web.app import WebDeps, create_app
from vigil.web.auth import API_KEY_HEADER

CARDS_CONTRACT = Path(__file__).resolve().parents[2] / "examples" / "sources" / "cards.yaml"
WEBHOOK_SECRET = "whsec-cards-of-acme"
MAX_RECORD_BYTES = 4096
MAX_REQUEST_BYTES = 64 * 1024
CUSTOMER = 987654321
"""The cardholder of the tests' records: a number that appears nowhere else, so finding it
anywhere on a stream means a personal value leaked."""


def card(transaction_id: int, **fields: Any) -> dict[str, Any]:
    """A transaction as the Fraud Detection Handbook's acquirer records it."""
    return {
        "TRANSACTION_ID": transaction_id,
        "TX_DATETIME": "2018-04-01 00:00:31",
        "CUSTOMER_ID": CUSTOMER,
        "TERMINAL_ID": 3156,
        "TX_AMOUNT": 57.16,
        "TX_TIME_SECONDS": 31,
        "TX_TIME_DAYS": 0,
        "TX_FRAUD": 0,
        "TX_FRAUD_SCENARIO": 0,
        **fields,
    }


def cards_ready(settings: Settings, tenant_id: str) -> Settings:
    """The settings with ingest limits for tests, and the tenant's cards contract applied."""
    ready = with_ingest_limits(settings, tenant_id)
    apply_cards_contract(ready, tenant_id)
    return ready


def with_ingest_limits(settings: Settings, tenant_id: str) -> Settings:
    """Small limits, so tests can cross them cheaply; contract changes seen at once; and a
    webhook secret for the tenant's cards source."""
    ingest = IngestSettings(
        max_record_bytes=MAX_RECORD_BYTES,
        max_request_bytes=MAX_REQUEST_BYTES,
        contract_refresh_seconds=0,
        webhook_secrets={f"{tenant_id}/cards": WEBHOOK_SECRET},
    )
    return settings.model_copy(update={"ingest": ingest})


def apply_cards_contract(settings: Settings, tenant_id: str) -> None:
    """`vigil sources apply examples/sources/cards.yaml`, in the tenant."""
    desk = build_alert_desk(settings)
    try:
        assert apply_file(desk, tenant_id, "test-setup", CARDS_CONTRACT, "") == [
            "cards (csv): version 1"
        ]
    finally:
        desk.close()


@asynccontextmanager
async def serving_ingest(
    settings: Settings, connected: bool = True, desk: Casework | None = None
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app as the composition root assembles it for `vigil serve`, ingestion, data sources
    and their dead letters included; its NATS connection is made on the app's own event loop as
    it starts (unless `connected` is False: an app that has not reached NATS yet). A `desk`
    given stays open after."""
    own_desk = desk is None
    desk = build_alert_desk(settings) if desk is None else desk
    engine = build_read_engine(settings)
    identity = build_identity(settings)
    intake = WebIntake(settings, desk)
    deps = WebDeps(
        alert_desk=desk,
        read_models=build_read_models(settings, engine),
        identity=identity.identity,
        csrf_secret="test-csrf-secret",
        ingest=intake.endpoints,
        sources=intake.sources,
        on_startup=[intake.start] if connected else [],
        on_shutdown=[intake.stop, engine.dispose, identity.close],
    )
    try:
        async with AsyncTestClient(create_app(deps)) as client:
            assert (intake.endpoints.intake is not None) == connected
            assert (intake.sources.dead_letter_box is not None) == connected
            yield client
    finally:
        if own_desk:
            desk.close()


@asynccontextmanager
async def engineer_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app, called with the API key of a data engineer (who holds ingest:write)."""
    key = api_key_of(settings, "ingest-engineer", "data_engineer")
    async with serving_ingest(settings) as client:
        client.headers[API_KEY_HEADER] = key
        yield client


def tokens(settings: Settings) -> Pseudonymiser:
    """The tokeniser intake uses: the same key, so a test can say what a value becomes."""
    return Pseudonymiser(pii_token_key(settings))


async def records_on(streams: Streams, source: str) -> list[RecordEnvelope]:
    """Every envelope on `<root>.records.<source>`, oldest first, read without a consumer."""
    settings = streams.publisher.settings
    raw = await _messages(
        streams.client.jetstream(), settings.stream("RECORDS"), settings.subject("records", source)
    )
    return [RecordEnvelope.from_json(line) for data in raw for line in unpack_records(data)]


async def raw_records_on(streams: Streams, source: str) -> list[bytes]:
    settings = streams.publisher.settings
    js = streams.client.jetstream()
    return await _messages(js, settings.stream("RECORDS"), settings.subject("records", source))


async def letters_of(streams: Streams, tenant_id: str, source: str) -> list[StoredDeadLetter]:
    """Every dead letter of the tenant's source, oldest first."""
    return await streams.dead_letter_box.page(tenant_id, source, 0, 10_000)


async def letter_count(streams: Streams, tenant_id: str, source: str) -> int:
    return (await streams.dead_letter_box.count(tenant_id, source)).get(source, 0)


async def _messages(js: JetStreamContext, stream: str, subject: str) -> list[bytes]:
    found: list[bytes] = []
    after = 0
    while True:
        try:
            message = await js.get_msg(stream, seq=after + 1, subject=subject, next=True)
        except NotFoundError:
            return found
        found.append(message.data or b"")
        after = message.seq or after + 1
