"""Live updates end to end: `vigil run` with its relay; a `gql` client over HTTP and websockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.websockets import WebsocketsTransport

from tests.builders import detections
from vigil.application.identity import issue_api_key, register_user
from vigil.bootstrap import build_alert_desk, build_password_hasher
from vigil.infrastructure.settings import NatsSettings, ServerSettings, Settings, StorageSettings
from vigil.web.auth import API_KEY_HEADER

pytestmark = pytest.mark.slow

TENANT = "default"
PASSWORD = "a passphrase long enough"

ALERT_RAISED = "subscription { alertRaised { id recordId severity status } }"
CASE_CHANGED = "subscription { caseChanged { event actor case { title status } } }"
ALERTS = "{ alerts(first: 10) { totalCount } }"
ACKNOWLEDGE = """
mutation Ack($id: ID!) {
  acknowledgeAlert(input: {alertId: $id, note: "cardholder confirmed"}) {
    __typename ... on AlertAcknowledged { alert { status } }
  }
}"""
OPEN_CASE = """
mutation Open($id: ID!) {
  openCase(input: {alertIds: [$id], title: "Stolen card", priority: HIGH}) { __typename }
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(
    params=["embedded", pytest.param("services", marks=[pytest.mark.postgres, pytest.mark.nats])]
)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The embedded default, then PostgreSQL and the machine's NATS, on free ports."""
    storage = StorageSettings(data_dir=tmp_path / "var", database_url=None)
    streams = NatsSettings(url=None, embedded_port=free_port())
    if request.param == "services":
        services: Settings = request.getfixturevalue("postgres_settings")
        storage, streams = services.storage, services.nats
    return Settings(storage=storage, nats=streams, server=ServerSettings(port=free_port()))


def platform_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_DATA_DIR=str(settings.storage.data_dir),
        VIGIL_PORT=str(settings.server.port),
        VIGIL_NATS_EMBEDDED_PORT=str(settings.nats.embedded_port),
        VIGIL_NATS_SUBJECT_ROOT=settings.nats.subject_root,
        VIGIL_NATS_STREAM_PREFIX=settings.nats.stream_prefix,
    )
    if settings.storage.database_url:
        env["VIGIL_DATABASE_URL"] = settings.storage.database_url
    if settings.nats.url:
        env["VIGIL_NATS_URL"] = settings.nats.url
    return env


@pytest.fixture
def running(platform: Settings, tmp_path: Path) -> Iterator[str]:
    """`vigil run`: the API, the relay and every other worker; its host:port."""
    log = (tmp_path / "platform.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil", "run"],
        env=platform_env(platform),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{platform.server.port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(address):
            assert process.poll() is None, (tmp_path / "platform.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the platform did not start within 60 s"
            time.sleep(0.3)
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        log.close()
        assert code == 0, (tmp_path / "platform.log").read_text()[-3000:]


def _healthy(address: str) -> bool:
    try:
        return httpx.get(f"http://{address}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def credentials(platform: Settings) -> dict[str, str]:
    """An analyst's API key, issued in the platform's own event store."""
    desk = build_alert_desk(platform)
    try:
        hasher = build_password_hasher(platform)
        analyst = register_user(desk, hasher, TENANT, "e2e", "e2e-analyst", PASSWORD, ["analyst"])
        expiry = desk.clock() + timedelta(days=1)
        key = issue_api_key(desk, TENANT, analyst.id, "e2e", "live updates", expiry)
    finally:
        desk.close()
    return {API_KEY_HEADER: key.plaintext}


@pytest.fixture
async def http(running: str, credentials: dict[str, str]) -> AsyncIterator[AsyncClientSession]:
    transport = AIOHTTPTransport(url=f"http://{running}/graphql", headers=credentials)
    async with Client(transport=transport) as session:
        yield session


@pytest.fixture
async def websocket(running: str, credentials: dict[str, str]) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(url=f"ws://{running}/graphql", headers=credentials)
    async with Client(transport=transport) as session:
        yield session


async def first(session: AsyncClientSession, subscription: str) -> dict[str, Any]:
    async for result in session.subscribe(GraphQLRequest(subscription)):
        return result
    raise AssertionError("the subscription ended without a result")


async def until_subscribed(settings: Settings, followers: int) -> None:
    """Waits until the DOMAIN stream has a consumer per subscription: from then on, every event
    saved reaches them."""
    client = await nats.connect(settings.nats.server_url)
    try:
        js = client.jetstream()
        for _ in range(500):
            info = await js.stream_info(settings.nats.stream("DOMAIN"))
            if info.state.consumer_count >= followers:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the subscriptions never reached the DOMAIN stream")
    finally:
        await client.close()


def raise_alert(settings: Settings) -> str:
    """What a score worker does on a record over its model's threshold, from this process."""
    desk = build_alert_desk(settings)
    try:
        found = detections(1, tenant_id=TENANT)
        desk.raise_alerts(found)
        return str(found[0].alert_id)
    finally:
        desk.close()


async def test_an_analyst_hears_of_a_new_alert_and_of_the_case_opened_from_it(
    platform: Settings, http: AsyncClientSession, websocket: AsyncClientSession
) -> None:
    assert await http.execute(GraphQLRequest(ALERTS)) == {"alerts": {"totalCount": 0}}
    raised = asyncio.create_task(asyncio.wait_for(first(websocket, ALERT_RAISED), 20))
    changed = asyncio.create_task(asyncio.wait_for(first(websocket, CASE_CHANGED), 20))
    await until_subscribed(platform, followers=2)

    alert_id = await asyncio.to_thread(raise_alert, platform)

    assert (await raised)["alertRaised"] == {
        "id": alert_id,
        "recordId": "tx-0",
        "severity": "HIGH",
        "status": "OPEN",
    }
    acknowledged = await http.execute(GraphQLRequest(ACKNOWLEDGE, variable_values={"id": alert_id}))
    assert acknowledged["acknowledgeAlert"] == {
        "__typename": "AlertAcknowledged",
        "alert": {"status": "ACKNOWLEDGED"},
    }
    opened = await http.execute(GraphQLRequest(OPEN_CASE, variable_values={"id": alert_id}))
    assert opened["openCase"]["__typename"] == "CaseChanged"
    assert (await changed)["caseChanged"] == {
        "event": "Opened",
        "actor": "e2e-analyst",
        "case": {"title": "Stolen card", "status": "OPEN"},
    }
