"""Records over HTTP into the machine's NATS JetStream: REST records and batches, signed webhooks
and file uploads under the cards contract, each either on `<root>.records.cards` with its
personal field tokenised or in the dead letters with the field and the reason; and
`vigil ingest` on a gzip CSV file."""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import FDH_TRANSACTIONS
from tests.graphql_client import TENANT
from tests.integration.conftest import api_key_of
from tests.integration.ingest_service import (
    CUSTOMER,
    MAX_RECORD_BYTES,
    MAX_REQUEST_BYTES,
    WEBHOOK_SECRET,
    apply_cards_contract,
    card,
    cards_ready,
    engineer_client,
    letters_of,
    raw_records_on,
    records_on,
    serving_ingest,
    tokens,
    with_ingest_limits,
)
from vigil.application.webhooks import sign
from vigil.bootstrap import Streams, open_streams
from vigil.cli_sources import cmd_ingest
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

INGEST = "/api/v1/ingest/cards"
WEBHOOK = "/api/v1/webhooks/cards"


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != name}


@pytest.fixture
def settings(postgres_settings: Settings) -> Settings:
    """The production shape only: ingestion needs NATS, and webhooks' signatures need Redis."""
    return cards_ready(postgres_settings, TENANT)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with engineer_client(settings) as client:
        yield client


@pytest.fixture
async def streams(settings: Settings) -> AsyncIterator[Streams]:
    """The test's own connection to the streams the app publishes to."""
    async with open_streams(settings, "test-reader") as streams:
        yield streams


async def assert_no_personal_value(streams: Streams) -> None:
    """The cardholder's number is nowhere on the records stream or in the dead letters."""
    for raw in await raw_records_on(streams, "cards"):
        assert str(CUSTOMER) not in raw.decode()
    for stored in await letters_of(streams, TENANT, "cards"):
        assert str(CUSTOMER).encode() not in stored.letter.body
        assert str(CUSTOMER) not in stored.letter.reason


# REST ---------------------------------------------------------------------------------------


async def test_one_record_is_accepted_onto_the_records_stream_with_its_cardholder_tokenised(
    client: AsyncTestClient[Any], streams: Streams, settings: Settings
) -> None:
    response = await client.post(INGEST, json=card(1))

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "deadLettered": 0, "errors": []}
    (envelope,) = await records_on(streams, "cards")
    token = tokens(settings).token(TENANT, CUSTOMER)
    assert (envelope.tenant_id, envelope.source, envelope.record_id) == (TENANT, "cards", "1")
    assert envelope.entity_id == envelope.data["CUSTOMER_ID"] == token
    assert envelope.data["TX_AMOUNT"] == 57.16
    assert "TX_FRAUD" not in envelope.data  # dropped by the contract
    await assert_no_personal_value(streams)


async def test_a_batch_is_accepted_record_by_record_and_its_refusals_are_named_by_index(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    batch = [card(1), card(2, TX_AMOUNT="lots"), card(3), without(card(4), "TERMINAL_ID"), card(5)]

    response = await client.post(INGEST, json=batch)

    assert response.status_code == 202, response.text
    assert response.json() == {
        "accepted": 3,
        "deadLettered": 2,
        "errors": [
            {"index": 1, "field": "TX_AMOUNT", "reason": "must be number"},
            {"index": 3, "field": "TERMINAL_ID", "reason": "is required but missing"},
        ],
    }
    assert [e.record_id for e in await records_on(streams, "cards")] == ["1", "3", "5"]
    letters = [stored.letter for stored in await letters_of(streams, TENANT, "cards")]
    assert [(letter.field, letter.stage) for letter in letters] == [
        ("TX_AMOUNT", "ingest"),
        ("TERMINAL_ID", "ingest"),
    ]
    kept = json.loads(letters[0].body)
    assert kept["TX_AMOUNT"] == "lots"
    assert kept["CUSTOMER_ID"].startswith("tok_")
    assert all(letter.pseudonymised for letter in letters)
    await assert_no_personal_value(streams)


async def test_a_record_sent_twice_is_stored_once(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    for _ in range(2):
        assert (await client.post(INGEST, json=card(1))).status_code == 202
    assert len(await records_on(streams, "cards")) == 1


@pytest.mark.parametrize("path", [INGEST, f"{INGEST}/file"])
async def test_ingest_needs_a_caller_and_the_ingest_permission(
    client: AsyncTestClient[Any], streams: Streams, settings: Settings, path: str
) -> None:
    body = json.dumps(card(1)).encode()
    key = client.headers.pop(API_KEY_HEADER)
    anonymous = await client.post(path, content=body)
    analyst = api_key_of(settings, "an-analyst", "analyst")
    refused = await client.post(path, content=body, headers={API_KEY_HEADER: analyst})
    client.headers[API_KEY_HEADER] = key

    assert anonymous.status_code == 401, anonymous.text
    assert refused.status_code == 403, refused.text
    assert "ingest:write" in refused.json()["detail"]
    assert await records_on(streams, "cards") == []
    assert await letters_of(streams, TENANT, "cards") == []


@pytest.mark.parametrize("path", ["/api/v1/ingest/logins", "/api/v1/ingest/logins/file"])
async def test_records_of_a_source_that_is_not_registered_are_refused_with_404(
    client: AsyncTestClient[Any], streams: Streams, path: str
) -> None:
    response = await client.post(path, content=json.dumps(card(1)).encode())

    assert response.status_code == 404, response.text
    problem = response.json()
    assert problem["field"] == "source"
    assert problem["detail"] == "no data source named 'logins' is registered"
    assert await letters_of(streams, TENANT, "logins") == []


# Schema violations --------------------------------------------------------------------------


def _json(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


HUGE = card(90, NOTE="x" * MAX_RECORD_BYTES)
VIOLATIONS = {
    "missing": (_json(without(card(1), "TX_AMOUNT")), "TX_AMOUNT", "is required but missing"),
    "wrong-type": (_json(card(2, TERMINAL_ID="T-3156")), "TERMINAL_ID", "must be integer"),
    "extra": (_json(card(3, SHOE_SIZE=44)), "SHOE_SIZE", "is not a field of the schema"),
    "huge": (_json(HUGE), "record", f"the limit is {MAX_RECORD_BYTES:,}"),
    "malformed-json": (b'{"TRANSACTION_ID": 5, "TX_AMOUNT": ', "record", "not JSON"),
    "bad-encoding": (b'{"TRANSACTION_ID": 6, "TX_DATETIME": "\xff\xfe"}', "record", "not UTF-8"),
    "below-minimum": (_json(card(7, TX_AMOUNT=-0.01)), "TX_AMOUNT", "bigger than or equal to 0"),
    "above-maximum": (
        _json(card(8, TX_AMOUNT=1_000_000.5)),
        "TX_AMOUNT",
        "smaller than or equal to 1000000",
    ),
    "pattern": (_json(card(9, TX_DATETIME="yesterday")), "TX_DATETIME", "must match pattern"),
    "utf-16-batch": (json.dumps([card(10)]).encode("utf-16"), "record", "not UTF-8"),
}


async def test_every_kind_of_contract_violation_reaches_the_dead_letters_with_field_and_reason(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    for name, (body, field, reason) in VIOLATIONS.items():
        response = await client.post(INGEST, content=body)

        assert response.status_code == 422, (name, response.text)
        problem = response.json()
        assert problem["field"] == field, name
        assert reason in problem["detail"], name
        assert "kept in the dead letters" in problem["detail"]
        (error,) = problem["errors"]
        assert (error["index"], error["field"]) == (0, field)

    letters = [stored.letter for stored in await letters_of(streams, TENANT, "cards")]
    assert [(letter.field, letter.stage) for letter in letters] == [
        (field, "ingest") for _, field, _ in VIOLATIONS.values()
    ]
    for letter, (name, (_, _, reason)) in zip(letters, VIOLATIONS.items(), strict=True):
        assert reason in letter.reason, name
        assert letter.origin.startswith("rest:"), name
    assert await records_on(streams, "cards") == []


async def test_a_record_over_the_size_limit_is_refused_inside_a_batch_too(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    response = await client.post(INGEST, json=[card(1), HUGE, card(2)])

    assert response.status_code == 202, response.text
    (error,) = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, "record")
    assert f"the limit is {MAX_RECORD_BYTES:,}" in error["reason"]
    assert [e.record_id for e in await records_on(streams, "cards")] == ["1", "2"]
    (stored,) = await letters_of(streams, TENANT, "cards")
    assert (stored.letter.field, stored.letter.origin.endswith("#1")) == ("record", True)
    await assert_no_personal_value(streams)


async def test_a_request_over_the_size_limit_is_refused_whole_and_nothing_of_it_is_kept(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    batch = [card(n) for n in range(MAX_REQUEST_BYTES // 150)]
    body = json.dumps(batch).encode()
    assert len(body) > MAX_REQUEST_BYTES

    response = await client.post(INGEST, content=body)

    assert response.status_code == 413, response.text
    assert await records_on(streams, "cards") == []
    assert await letters_of(streams, TENANT, "cards") == []


# Webhooks -----------------------------------------------------------------------------------


def signed(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        "Vigil-Timestamp": str(timestamp),
        "Vigil-Signature": sign(secret, timestamp, body),
        "Vigil-Tenant": TENANT,
    }


async def test_a_signed_webhook_delivery_is_accepted_without_any_other_credentials(
    client: AsyncTestClient[Any], streams: Streams, settings: Settings
) -> None:
    body = _json(card(11))
    del client.headers[API_KEY_HEADER]

    response = await client.post(WEBHOOK, content=body, headers=signed(body))

    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 1
    (envelope,) = await records_on(streams, "cards")
    assert (envelope.tenant_id, envelope.record_id) == (TENANT, "11")
    assert envelope.entity_id == tokens(settings).token(TENANT, CUSTOMER)
    await assert_no_personal_value(streams)


def _wrong_secret(body: bytes) -> dict[str, str]:
    return signed(body, secret="not-the-secret")


def _no_signature(body: bytes) -> dict[str, str]:
    return without_header(signed(body), "Vigil-Signature")


def _no_timestamp(body: bytes) -> dict[str, str]:
    return without_header(signed(body), "Vigil-Timestamp")


def _stale(body: bytes) -> dict[str, str]:
    return signed(body, at=int(time.time()) - 3600)


def _other_body(body: bytes) -> dict[str, str]:
    return signed(body + b" ")


def without_header(headers: dict[str, str], name: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != name}


@pytest.mark.parametrize(
    ("headers_for", "field"),
    [
        (_wrong_secret, "Vigil-Signature"),
        (_other_body, "Vigil-Signature"),
        (_no_signature, "Vigil-Signature"),
        (_no_timestamp, "Vigil-Timestamp"),
        (_stale, "Vigil-Timestamp"),
    ],
    ids=["wrong-secret", "body-changed", "no-signature", "no-timestamp", "stale-timestamp"],
)
async def test_an_unproven_webhook_delivery_is_refused_with_401_and_nothing_is_published(
    client: AsyncTestClient[Any], streams: Streams, headers_for: Any, field: str
) -> None:
    body = _json(card(12))

    response = await client.post(WEBHOOK, content=body, headers=headers_for(body))

    assert response.status_code == 401, response.text
    assert response.json()["field"] == field
    assert await records_on(streams, "cards") == []
    assert await letters_of(streams, TENANT, "cards") == []


async def test_a_webhook_delivery_sent_again_is_refused_as_a_replay(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    body = _json([card(13), card(14)])
    headers = signed(body)

    first = await client.post(WEBHOOK, content=body, headers=headers)
    again = await client.post(WEBHOOK, content=body, headers=headers)

    assert first.status_code == 202, first.text
    assert again.status_code == 401, again.text
    assert (again.json()["field"], "replay" in again.json()["detail"]) == ("Vigil-Signature", True)
    assert [e.record_id for e in await records_on(streams, "cards")] == ["13", "14"]


async def test_a_webhook_delivery_for_a_tenant_without_a_secret_is_refused(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    body = _json(card(15))
    # Signed with acme's secret, but naming another tenant, or none (the install's own).
    for tenant, field in (("globex", "Vigil-Tenant"), ("", "source")):
        headers = {**signed(body), "Vigil-Tenant": tenant}
        response = await client.post(WEBHOOK, content=body, headers=headers)

        assert response.status_code == 404, response.text
        assert response.json()["field"] == field
        assert "no webhook secret" in response.json()["detail"]
    assert await records_on(streams, "cards") == []


async def test_a_webhook_delivery_answered_503_before_nats_is_reached_is_accepted_when_retried(
    settings: Settings, streams: Streams
) -> None:
    body = _json(card(16))
    headers = signed(body)
    async with serving_ingest(settings, connected=False) as starting:
        unavailable = await starting.post(WEBHOOK, content=body, headers=headers)
    async with serving_ingest(settings) as started:
        retried = await started.post(WEBHOOK, content=body, headers=headers)

    assert unavailable.status_code == 503, unavailable.text
    assert retried.status_code == 202, retried.text
    assert [e.record_id for e in await records_on(streams, "cards")] == ["16"]


async def test_a_webhook_delivery_over_the_size_limit_is_refused_whole(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    body = _json([card(n) for n in range(MAX_REQUEST_BYTES // 150)])

    response = await client.post(WEBHOOK, content=body, headers=signed(body))

    assert response.status_code == 413, response.text
    assert await records_on(streams, "cards") == []


# Files --------------------------------------------------------------------------------------


def slice_lines(rows: int) -> list[str]:
    """The header and the first rows of the Handbook's transactions, as CSV lines."""
    with gzip.open(FDH_TRANSACTIONS, "rt") as source:
        return list(itertools.islice(source, rows + 1))


async def test_a_csv_upload_is_accepted_row_by_row_and_a_broken_row_is_kept_with_its_line(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    lines = slice_lines(60)
    lines.insert(10, "9999,2018-04-01 00:30:00,17\n")  # line 11 of the file: three fields
    body = "".join(lines).encode()

    response = await client.post(f"{INGEST}/file?filename=day1.csv", content=body)

    assert response.status_code == 202, response.text
    assert response.json() == {"read": 61, "accepted": 60, "deadLettered": 1}
    envelopes = await records_on(streams, "cards")
    ids = [line.split(",", 1)[0] for line in lines[1:] if line.count(",") == 8]
    assert [e.record_id for e in envelopes] == ids
    assert all(e.data["CUSTOMER_ID"].startswith("tok_") for e in envelopes)
    (stored,) = await letters_of(streams, TENANT, "cards")
    assert (stored.letter.origin, stored.letter.field) == ("day1.csv:line 11", "record")
    assert stored.letter.reason == "row has 3 fields, the header has 9"


async def test_a_parquet_upload_is_accepted_row_by_row_and_an_invalid_row_is_dead_lettered(
    client: AsyncTestClient[Any], streams: Streams, settings: Settings
) -> None:
    rows = [card(n, CUSTOMER_ID=CUSTOMER + n, TX_AMOUNT=10.0 + n) for n in range(20)]
    rows[7]["TX_AMOUNT"] = -3.5
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), parquet)

    response = await client.post(f"{INGEST}/file?filename=day1.parquet", content=parquet.getvalue())

    assert response.status_code == 202, response.text
    assert response.json() == {"read": 20, "accepted": 19, "deadLettered": 1}
    envelopes = await records_on(streams, "cards")
    assert [e.record_id for e in envelopes] == [str(n) for n in range(20) if n != 7]
    pseudonyms = tokens(settings)
    assert [e.entity_id for e in envelopes] == [
        pseudonyms.token(TENANT, CUSTOMER + n) for n in range(20) if n != 7
    ]
    (stored,) = await letters_of(streams, TENANT, "cards")
    assert (stored.letter.origin, stored.letter.field) == ("day1.parquet:8", "TX_AMOUNT")
    assert "bigger than or equal to 0" in stored.letter.reason
    assert str(CUSTOMER + 7).encode() not in stored.letter.body


async def test_an_upload_that_is_no_record_file_is_refused_naming_the_file(
    client: AsyncTestClient[Any], streams: Streams
) -> None:
    response = await client.post(f"{INGEST}/file?filename=empty.csv", content=b"")

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "file"
    assert "no header row" in response.json()["detail"]
    assert "vigil-upload" not in response.json()["detail"]  # no server paths
    assert await records_on(streams, "cards") == []


# The CLI ------------------------------------------------------------------------------------


async def test_vigil_ingest_prints_the_counts_the_streams_hold(
    postgres_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = with_ingest_limits(postgres_settings, TENANT)
    default = settings.server.default_tenant
    apply_cards_contract(settings, default)
    lines = slice_lines(400)
    lines.insert(200, "broken,row\n")
    lines[300] = lines[300].rsplit(",", 2)[0] + ",7,0\n"  # TX_FRAUD is 0 or 1
    path = tmp_path / "slice.csv.gz"
    with gzip.open(path, "wt") as target:
        target.writelines(lines)
    args = argparse.Namespace(
        tenant=None, file=path, source="cards", skip=0, limit=None, rate=None, quiet=True
    )

    assert await anyio.to_thread.run_sync(cmd_ingest, args, settings) == 0

    printed = capsys.readouterr().out
    said = re.search(r"ingested ([\d,]+) records .*; ([\d,]+) dead-lettered", printed)
    assert said is not None, printed
    accepted, dead_lettered = (int(group.replace(",", "")) for group in said.groups())
    async with open_streams(settings, "test-reader") as streams:
        assert accepted == len(await records_on(streams, "cards")) == 399
        assert dead_lettered == len(await letters_of(streams, default, "cards")) == 2
