"""Subscriptions over a real websocket: new alerts and case changes, fed by the relay from NATS.

The app is served by uvicorn on a free port in the test's event loop, and a `gql` client talks
to it as any other client would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import detections
from tests.graphql_client import ANALYST, TENANT
from vigil.application.casework import Casework
from vigil.bootstrap import build_identity, build_read_models, build_relay
from vigil.domain.alert import Severity
from vigil.domain.case import Priority
from vigil.infrastructure.nats.domain_events import JetStreamDomainEventFeed
from vigil.infrastructure.nats.jetstream import connect, ensure_streams
from vigil.infrastructure.settings import NatsSettings, Settings
from vigil.web.app import WebDeps, create_app
from vigil.web.auth import API_KEY_HEADER
from vigil.workers.relay import DomainEventRelay

pytestmark = pytest.mark.nats

OTHER_TENANT = "globex"

ALERT_RAISED = """
subscription Raised($min: Severity) {
  alertRaised(minSeverity: $min) { id recordId severity status score }
}"""

CASE_CHANGED = """
subscription Changed($caseId: ID) {
  caseChanged(caseId: $caseId) { caseId event version actor details case { status assignee } }
}"""

Serve = Callable[[JetStreamDomainEventFeed | None], Awaitable[str]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def streamed(settings: Settings, nats_settings: NatsSettings) -> Settings:
    return settings.model_copy(update={"nats": nats_settings})


@pytest.fixture
async def js(streamed: Settings) -> AsyncIterator[JetStreamContext]:
    client = await connect(streamed.nats, "subscriptions-test")
    jetstream = client.jetstream()
    await ensure_streams(jetstream, streamed.nats)
    yield jetstream
    await client.close()


@pytest.fixture
def relay(streamed: Settings, desk: Casework, js: JetStreamContext) -> DomainEventRelay:
    return build_relay(streamed, desk, js)


@pytest.fixture
async def serve(
    settings: Settings, desk: Casework, read_engine: AsyncEngine
) -> AsyncIterator[Serve]:
    """Starts the app for TENANT on uvicorn with the live feed given; returns its host:port."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(live: JetStreamDomainEventFeed | None) -> str:
        hooks = [] if live is None else [live]
        identity = build_identity(settings)
        deps = WebDeps(
            alert_desk=desk,
            read_models=build_read_models(settings, read_engine),
            identity=identity.identity,
            csrf_secret="test-csrf-secret",
            domain_events=live,
            on_startup=[h.start for h in hooks],
            on_shutdown=[*(h.stop for h in hooks), identity.close],
        )
        port = free_port()
        config = uvicorn.Config(create_app(deps), port=port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        servers.append((server, asyncio.create_task(server.serve())))
        for _ in range(500):
            if server.started:
                return f"127.0.0.1:{port}"
            await asyncio.sleep(0.02)
        raise AssertionError("the server did not start")

    yield start
    for server, serving in servers:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


@pytest.fixture
def credentials(caller_key: str) -> dict[str, str]:
    """What every client here sends: the tests' API key, on the handshake as on requests."""
    return {API_KEY_HEADER: caller_key}


@pytest.fixture
async def live_server(serve: Serve, streamed: Settings) -> str:
    return await serve(JetStreamDomainEventFeed(streamed.nats))


@pytest.fixture
async def session(
    live_server: str, credentials: dict[str, str]
) -> AsyncIterator[AsyncClientSession]:
    """A gql client session on the server's websocket (graphql-transport-ws)."""
    transport = WebsocketsTransport(
        url=f"ws://{live_server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        headers=credentials,
    )
    async with Client(transport=transport) as connected:
        yield connected


class Subscriber:
    """Collects what one subscription delivers, in the background."""

    def __init__(self, session: AsyncClientSession, query: str, **variables: Any) -> None:
        self.received: list[dict[str, Any]] = []
        request = GraphQLRequest(query, variable_values=variables)
        self._task = asyncio.create_task(self._collect(session, request))

    async def _collect(self, session: AsyncClientSession, request: GraphQLRequest) -> None:
        async for result in session.subscribe(request):
            self.received.append(result)

    async def until(self, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + seconds
        while len(self.received) < count:
            if self._task.done():
                self._task.result()
            assert asyncio.get_running_loop().time() < deadline, self.received
            await asyncio.sleep(0.02)
        return self.received

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def subscribed(js: JetStreamContext, settings: Settings, followers: int) -> None:
    """Waits until the DOMAIN stream has a consumer for each follower: only then do events
    saved afterwards reach them."""
    stream = settings.nats.stream("DOMAIN")
    for _ in range(500):
        if (await js.stream_info(stream)).state.consumer_count >= followers:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {followers} subscribers on {stream}")


async def test_a_subscriber_hears_of_its_tenants_new_alerts_and_never_of_another_tenants(
    session: AsyncClientSession,
    desk: Casework,
    relay: DomainEventRelay,
    js: JetStreamContext,
    streamed: Settings,
) -> None:
    every = Subscriber(session, ALERT_RAISED)
    severe = Subscriber(session, ALERT_RAISED, min="CRITICAL")
    await subscribed(js, streamed, followers=2)

    desk.raise_alerts(detections(2, tenant_id=OTHER_TENANT, severity=Severity.CRITICAL))
    medium = detections(1, start=10, tenant_id=TENANT, severity=Severity.MEDIUM)
    critical = detections(1, start=20, tenant_id=TENANT, severity=Severity.CRITICAL)
    desk.raise_alerts(medium)
    desk.raise_alerts(critical)
    await relay.catch_up()

    # The stream holds them in the order they were saved, so the other tenant's came first.
    heard = [r["alertRaised"] for r in await every.until(2)]
    assert [a["recordId"] for a in heard] == ["tx-10", "tx-20"]
    assert heard[0] == {
        "id": str(medium[0].alert_id),
        "recordId": "tx-10",
        "severity": "MEDIUM",
        "status": "OPEN",
        "score": 0.8125,
    }
    assert [r["alertRaised"]["recordId"] for r in await severe.until(1)] == ["tx-20"]
    await every.stop()
    await severe.stop()


async def test_a_subscriber_follows_one_case_or_all_of_them(
    session: AsyncClientSession,
    desk: Casework,
    relay: DomainEventRelay,
    js: JetStreamContext,
    streamed: Settings,
) -> None:
    raised = detections(3, tenant_id=TENANT)
    desk.raise_alerts(raised)
    watched = desk.open_case(TENANT, ANALYST, "Stolen card", Priority.HIGH, [raised[0].alert_id])
    await relay.catch_up()
    one = Subscriber(session, CASE_CHANGED, caseId=str(watched.id))
    every = Subscriber(session, CASE_CHANGED)
    await subscribed(js, streamed, followers=2)

    desk.assign_case(TENANT, watched.id, ANALYST, "dana")
    other = desk.open_case(TENANT, ANALYST, "Card testing", Priority.LOW, [raised[1].alert_id])
    desk.comment_on_case(TENANT, watched.id, ANALYST, "cardholder called back")
    await relay.catch_up()

    changes = [r["caseChanged"] for r in await one.until(2)]
    assert [(c["event"], c["actor"]) for c in changes] == [
        ("Assigned", ANALYST),
        ("Commented", ANALYST),
    ]
    assert changes[0]["caseId"] == str(watched.id)
    assert changes[0]["details"] == {"assignee": "dana"}
    assert changes[1]["case"] == {"status": "OPEN", "assignee": "dana"}
    everything = [r["caseChanged"] for r in await every.until(3)]
    assert [(c["caseId"], c["event"]) for c in everything] == [
        (str(watched.id), "Assigned"),
        (str(other.id), "Opened"),
        (str(watched.id), "Commented"),
    ]
    await one.stop()
    await every.stop()


async def test_clients_of_the_older_graphql_ws_protocol_are_served_too(
    live_server: str,
    credentials: dict[str, str],
    desk: Casework,
    relay: DomainEventRelay,
    js: JetStreamContext,
    streamed: Settings,
) -> None:
    transport = WebsocketsTransport(
        url=f"ws://{live_server}/graphql",
        subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL],
        headers=credentials,
    )
    async with Client(transport=transport) as session:
        subscriber = Subscriber(session, ALERT_RAISED)
        await subscribed(js, streamed, followers=1)
        desk.raise_alerts(detections(1, tenant_id=TENANT))
        await relay.catch_up()
        assert [r["alertRaised"]["recordId"] for r in await subscriber.until(1)] == ["tx-0"]
        await subscriber.stop()


async def test_a_case_id_that_is_not_one_is_refused(session: AsyncClientSession) -> None:
    request = GraphQLRequest(CASE_CHANGED, variable_values={"caseId": "not-a-case"})
    with pytest.raises(TransportQueryError, match="caseId"):
        async for _ in session.subscribe(request):
            pass


async def test_without_nats_a_subscription_fails_at_once_with_a_clear_error(
    serve: Serve, credentials: dict[str, str]
) -> None:
    server = await serve(None)
    transport = WebsocketsTransport(url=f"ws://{server}/graphql", headers=credentials)
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError, match="live updates are unavailable"):
            async for _ in session.subscribe(GraphQLRequest(ALERT_RAISED)):
                pass


async def test_with_nats_unreachable_the_api_serves_and_a_subscription_says_why(
    serve: Serve, credentials: dict[str, str]
) -> None:
    nowhere = NatsSettings(url=f"nats://127.0.0.1:{free_port()}")
    server = await serve(JetStreamDomainEventFeed(nowhere, connect_seconds=0.5))
    transport = WebsocketsTransport(url=f"ws://{server}/graphql", headers=credentials)
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError, match="did not answer"):
            async for _ in session.subscribe(GraphQLRequest(ALERT_RAISED)):
                pass
    async with Client(
        transport=AIOHTTPTransport(url=f"http://{server}/graphql", headers=credentials)
    ) as http:
        answer = await http.execute(GraphQLRequest("{ alerts { totalCount } }"))
    assert answer == {"alerts": {"totalCount": 0}}
