"""The permission matrix, generated: every role against every GraphQL root field and every REST
route, allowed or refused exactly as `ROLE_PERMISSIONS` says.

The GraphQL side walks the schema: what a field needs is its own `needs(...)` declaration, and
the operation sent is made from its arguments' types, so a field added tomorrow is in the matrix
without a line here. An allowed call may fail for other reasons (a random id is found nowhere);
only who is refused is asserted. Subscriptions go over the websocket like any client's. The REST
side reads the app's route list, so a new `/api/` route must be guarded and named in
`REST_PERMISSIONS` before this suite passes. Every test that calls the app runs on SQLite and
on PostgreSQL: six roles on two stores, in well under a minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal
from uuid import uuid4

import graphql
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient, WebSocketTestSession
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.base import StrawberryObjectDefinition

from tests.app_routes import AppRoute, app_routes
from tests.builders import detections
from tests.graphql_client import TENANT
from tests.integration.conftest import api_key_of
from vigil.application.casework import Casework
from vigil.application.permissions import ROLE_PERMISSIONS, Permission, Role
from vigil.application.queues import define_queue
from vigil.domain.case import Priority
from vigil.domain.queue import Assignment, QueueCriteria, QueueKind, QueueRules
from vigil.graphql.permissions import required_by
from vigil.graphql.schema import schema
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

Operation = Literal["query", "mutation", "subscription"]

SDL = graphql.build_schema(schema.as_str())

DUMMY_SCALARS: dict[str, Any] = {
    "String": "x",
    "Int": 1,
    "Float": 0.5,
    "Boolean": False,
    "JSON": {},
    "DateTime": "2026-01-01T00:00:00+00:00",
}
"""A value of each scalar's type; an ID is a fresh UUID each time (see `dummy`)."""

REFUSALS = {"FORBIDDEN", "UNAUTHENTICATED"}

PUBLIC_API = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
}
"""The only `/api/` routes anyone may call: they are how a caller gets credentials."""

REST_PERMISSIONS: dict[tuple[str, str], tuple[Permission, ...]] = {
    ("POST", "/api/v1/cases/{case_id:uuid}/files"): (Permission.CASES_ACT,),
    ("GET", "/api/v1/cases/{case_id:uuid}/files/{sha256:str}"): (Permission.CASES_READ,),
    ("POST", "/api/v1/scoring/score"): (Permission.SCORING_SCORE,),
    ("POST", "/api/v1/scoring/score/batch"): (Permission.SCORING_SCORE,),
}
"""What each guarded REST route must need: the REST half of the matrix."""

OTHER_TENANT = "globex"

WRONG_KEY = "vgl_000000000000_" + "A" * 43
"""Shaped like an API key, issued to nobody."""


@dataclass(frozen=True)
class RootField:
    operation: Operation
    name: str
    needs: tuple[Permission, ...] | None
    """What its `needs(...)` declares; None when it declares nothing."""
    definition: graphql.GraphQLField

    def __str__(self) -> str:
        return f"{self.operation} {self.name}"

    @property
    def takes_ids(self) -> bool:
        return any(_names_an_id(argument.type) for argument in self.definition.args.values())

    def document(
        self, ids: str | None = None, selection: str = "__typename"
    ) -> tuple[str, dict[str, Any]]:
        """An operation calling the field with every required argument filled in, as
        variables, and selecting only `selection` below it; every ID is `ids` when given."""
        required = {
            name: argument
            for name, argument in self.definition.args.items()
            if graphql.is_required_argument(argument)
        }
        declared = ", ".join(f"${name}: {arg.type}" for name, arg in required.items())
        passed = ", ".join(f"{name}: ${name}" for name in required)
        call = f"{self.name}({passed})" if passed else self.name
        if graphql.is_composite_type(graphql.get_named_type(self.definition.type)):
            call += f" {{ {selection} }}"
        header = f"{self.operation} Matrix({declared})" if declared else self.operation
        text = f"{header} {{ {call} }}"
        values = {name: dummy(argument.type, ids) for name, argument in required.items()}
        return text, values


def _names_an_id(of: graphql.GraphQLInputType) -> bool:
    named = graphql.get_named_type(of)
    if isinstance(named, graphql.GraphQLInputObjectType):
        return any(_names_an_id(field.type) for field in named.fields.values())
    return named.name == "ID"


def root_fields(*operations: Operation) -> list[RootField]:
    found = []
    roots = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
    for operation in operations:
        definition = schema.get_type_by_name(roots[operation])
        sdl_type = SDL.get_type(roots[operation])
        assert isinstance(definition, StrawberryObjectDefinition)
        assert isinstance(sdl_type, graphql.GraphQLObjectType)
        for field in definition.fields:
            name = schema.config.name_converter.get_graphql_name(field)
            needs = required_by(field.extensions)
            found.append(RootField(operation, name, needs, sdl_type.fields[name]))
    return found


def dummy(of: graphql.GraphQLInputType, ids: str | None = None) -> Any:
    """A value of the type, as a variable carries it; input objects get their required fields.
    An ID is `ids`, or a fresh UUID."""
    if isinstance(of, graphql.GraphQLNonNull):
        return dummy(of.of_type, ids)
    if isinstance(of, graphql.GraphQLList):
        return [dummy(of.of_type, ids)]
    if isinstance(of, graphql.GraphQLEnumType):
        return next(iter(of.values))
    if isinstance(of, graphql.GraphQLInputObjectType):
        return {
            name: dummy(field.type, ids)
            for name, field in of.fields.items()
            if graphql.is_required_input_field(field)
        }
    if isinstance(of, graphql.GraphQLScalarType) and of.name == "ID":
        return ids or str(uuid4())
    assert isinstance(of, graphql.GraphQLScalarType)
    assert of.name in DUMMY_SCALARS, f"add a dummy value for the scalar {of.name}"
    return DUMMY_SCALARS[of.name]


QUERIES_AND_MUTATIONS = root_fields("query", "mutation")
SUBSCRIPTIONS = root_fields("subscription")


async def errors_of(client: AsyncTestClient[Any], field: RootField) -> list[dict[str, Any]]:
    """The errors the field answers, sent with the client's own headers."""
    text, variables = field.document()
    assert not graphql.validate(SDL, graphql.parse(text)), text
    if field.operation == "subscription":
        errors = await subscription_errors(client, text, variables)
    else:
        response = await client.post("/graphql", json={"query": text, "variables": variables})
        assert response.status_code == 200, f"{field}: {response.text}"
        errors = response.json().get("errors", [])
    # An error with neither a path nor a code is the request's own (its variables): the
    # generated values would be wrong. A subscription's one field owns all its errors.
    assert all(error.get("path") or codes([error]) != {None} for error in errors), (text, errors)
    return [error for error in errors if error.get("path", [field.name])[0] == field.name]


async def subscription_errors(
    client: AsyncTestClient[Any], text: str, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    """The errors of a subscription's first answer over graphql-transport-ws."""
    async with graphql_socket(client) as socket:
        socket.send_json({"type": "connection_init"})
        assert socket.receive_json(timeout=5) == {"type": "connection_ack"}
        payload = {"query": text, "variables": variables}
        socket.send_json({"id": "1", "type": "subscribe", "payload": payload})
        answer = socket.receive_json(timeout=5)
    if answer["type"] == "error":
        return list(answer["payload"])
    assert answer["type"] == "next", answer
    return list(answer["payload"].get("errors", []))


@asynccontextmanager
async def graphql_socket(client: AsyncTestClient[Any]) -> AsyncIterator[WebSocketTestSession]:
    """The test client's websocket session: synchronous, the app serving it in its own thread."""
    with await client.websocket_connect(
        "/graphql", subprotocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL]
    ) as session:
        yield session


def codes(errors: list[dict[str, Any]]) -> set[str | None]:
    return {error.get("extensions", {}).get("code") for error in errors}


def notifications(desk: Casework) -> int:
    return desk.recorder.max_notification_id() or 0


# GraphQL --------------------------------------------------------------------------------------


def test_every_root_field_declares_the_permissions_it_needs() -> None:
    every = [*QUERIES_AND_MUTATIONS, *SUBSCRIPTIONS]

    undeclared = [str(field) for field in every if not field.needs]

    assert every, "the schema has root fields"
    assert undeclared == [], "add needs(...) to these fields"


SOURCE_FIELDS: dict[str, tuple[Permission, ...]] = {
    "query dataSources": (Permission.SOURCES_READ,),
    "query dataSource": (Permission.SOURCES_READ,),
    "query deadLetters": (Permission.SOURCES_READ,),
    "mutation applyDataSource": (Permission.SOURCES_MANAGE,),
    "mutation replayDeadLetters": (Permission.SOURCES_MANAGE,),
}
"""The data-source fields and what they need: reading a source and its dead letters is every
working role's; changing a contract or replaying is the data engineers' (and admins')."""


def test_the_data_source_fields_need_the_sources_permissions() -> None:
    declared = {str(f): f.needs for f in QUERIES_AND_MUTATIONS if str(f) in SOURCE_FIELDS}

    assert declared == SOURCE_FIELDS


def test_every_role_is_in_the_permission_table() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize("role", list(Role), ids=str)
async def test_each_role_is_refused_exactly_the_fields_its_permissions_do_not_cover(
    client: AsyncTestClient[Any], settings: Settings, desk: Casework, role: Role
) -> None:
    client.headers[API_KEY_HEADER] = api_key_of(settings, f"matrix-{role}", role)
    held = ROLE_PERMISSIONS[role]
    wrong = []

    for field in [*QUERIES_AND_MUTATIONS, *SUBSCRIPTIONS]:
        before = notifications(desk)
        errors = await errors_of(client, field)
        missing = sorted(str(p) for p in field.needs or () if p not in held)
        refusals = [error for error in errors if codes([error]) & REFUSALS]
        if missing:
            told = [(e["extensions"]["code"], e["extensions"].get("permissions")) for e in refusals]
            if told != [("FORBIDDEN", missing)]:
                wrong.append(f"{field} should be refused for lacking {missing}: {errors}")
            if notifications(desk) != before:
                wrong.append(f"{field} was refused but recorded events")
        elif refusals:
            wrong.append(f"{field} should be allowed: {refusals}")

    assert wrong == []


@pytest.mark.parametrize(
    "credentials", [{}, {API_KEY_HEADER: WRONG_KEY}], ids=["no credentials", "a wrong api key"]
)
async def test_every_root_field_asks_a_caller_who_proves_nobody_to_sign_in(
    client: AsyncTestClient[Any], desk: Casework, credentials: dict[str, str]
) -> None:
    client.headers.pop(API_KEY_HEADER)
    client.headers.update(credentials)
    before = notifications(desk)
    answers = {}

    for field in [*QUERIES_AND_MUTATIONS, *SUBSCRIPTIONS]:
        answers[str(field)] = codes(await errors_of(client, field))

    assert {field: found for field, found in answers.items() if found != {"UNAUTHENTICATED"}} == {}
    assert notifications(desk) == before


# REST -----------------------------------------------------------------------------------------


def api_routes(app: Litestar) -> Iterator[AppRoute]:
    return app_routes(app, lambda path: path.startswith("/api/"))


def guarded_routes(app: Litestar) -> list[AppRoute]:
    return [r for r in api_routes(app) if (r.method, r.path) not in PUBLIC_API]


async def test_every_guarded_api_route_is_in_the_rest_permission_table(
    client: AsyncTestClient[Any],
) -> None:
    declared = {(route.method, route.path) for route in guarded_routes(client.app)}
    public = {(route.method, route.path) for route in api_routes(client.app)} - declared

    assert declared == set(REST_PERMISSIONS)
    assert public == PUBLIC_API


async def test_every_api_route_but_logging_in_answers_401_to_a_caller_who_proves_nobody(
    client: AsyncTestClient[Any],
) -> None:
    answers = {}

    for credentials in ({}, {API_KEY_HEADER: WRONG_KEY}):
        client.headers.pop(API_KEY_HEADER, None)
        client.headers.update(credentials)
        for route in guarded_routes(client.app):
            response = await client.request(route.method, route.url())
            answers[(route.method, route.path, bool(credentials))] = response.status_code

    assert set(answers.values()) == {401}, answers


@pytest.mark.parametrize("role", list(Role), ids=str)
async def test_each_role_is_refused_exactly_the_rest_routes_its_permissions_do_not_cover(
    client: AsyncTestClient[Any], settings: Settings, role: Role
) -> None:
    client.headers[API_KEY_HEADER] = api_key_of(settings, f"matrix-{role}", role)
    held = ROLE_PERMISSIONS[role]
    answers: dict[tuple[str, str], int | str] = {}
    expected: dict[tuple[str, str], int | str] = {}

    for route in guarded_routes(client.app):
        key = (route.method, route.path)
        status = (await client.request(route.method, route.url())).status_code
        # Allowed, a request with no body and a random case id fails further on.
        answers[key] = status if status in (401, 403) else "allowed"
        expected[key] = "allowed" if all(p in held for p in REST_PERMISSIONS[key]) else 403

    assert answers == expected


@pytest.fixture
def open_case(desk: Casework) -> str:
    found = detections(1, tenant_id=TENANT)
    desk.raise_alerts(found)
    case = desk.open_case(TENANT, "ann", "Chargeback", Priority.HIGH, [found[0].alert_id])
    return str(case.id)


async def test_an_auditor_downloads_a_case_file_but_may_not_upload_one_and_a_data_engineer_neither(
    client: AsyncTestClient[Any], settings: Settings, desk: Casework, open_case: str
) -> None:
    files = f"/api/v1/cases/{open_case}/files"
    statement = {"file": ("statement.txt", b"chargeback statement", "text/plain")}
    analyst, auditor, engineer = (
        {API_KEY_HEADER: api_key_of(settings, name, role)}
        for name, role in [
            ("ann", Role.ANALYST),
            ("audrey", Role.AUDITOR),
            ("dirk", Role.DATA_ENGINEER),
        ]
    )
    client.headers.pop(API_KEY_HEADER)
    uploaded = await client.post(files, files=statement, headers=analyst)
    assert uploaded.status_code == 201, uploaded.text
    download = f"{files}/{uploaded.json()['sha256']}"
    recorded = notifications(desk)

    auditor_upload = await client.post(files, files=statement, headers=auditor)
    auditor_download = await client.get(download, headers=auditor)
    engineer_download = await client.get(download, headers=engineer)
    anonymous = [await client.post(files, files=statement), await client.get(download)]

    assert auditor_upload.status_code == 403
    assert (auditor_download.status_code, auditor_download.content) == (
        200,
        b"chargeback statement",
    )
    assert engineer_download.status_code == 403
    assert [response.status_code for response in anonymous] == [401, 401]
    assert notifications(desk) == recorded, "the refused uploads recorded nothing"


# Tenants --------------------------------------------------------------------------------------


@pytest.fixture
def other_tenants_admin(settings: Settings) -> str:
    """An API key of an admin of another tenant: they may do everything, in their own tenant."""
    return api_key_of(settings, "root", "admin", tenant=OTHER_TENANT)


@pytest.fixture
def tenants_work(desk: Casework) -> list[str]:
    """The ids of an alert, a case and a queue of the test tenant."""
    found = detections(2, tenant_id=TENANT)
    desk.raise_alerts(found)
    case = desk.open_case(TENANT, "ann", "Chargeback", Priority.HIGH, [found[0].alert_id])
    rules = QueueRules(QueueCriteria(), 30, Assignment.MANUAL)
    queue = define_queue(desk, TENANT, "lead", "Cards", QueueKind.ALERTS, rules)
    return [str(found[1].alert_id), str(case.id), str(queue.id)]


ID_FIELDS = [field for field in QUERIES_AND_MUTATIONS if field.takes_ids]

LISTS_WHAT_IT_CHANGED = {"BulkAlertResult": "__typename applied"}
"""Answers that are no error but list what the command changed: that list must be empty."""


def test_the_tenant_check_covers_every_kind_of_root_field_that_takes_an_id() -> None:
    names = {field.name for field in ID_FIELDS}

    assert {"alert", "case", "queue", "acknowledgeAlert", "openCase", "takeNext"} <= names


async def test_another_tenants_admin_finds_and_changes_nothing_of_the_tenants_by_its_ids(
    client: AsyncTestClient[Any], desk: Casework, other_tenants_admin: str, tenants_work: list[str]
) -> None:
    """Every query and mutation that takes an id, called with each of the tenant's ids by
    another tenant's admin: a query answers null, a mutation a not-found error, and nothing
    is recorded."""
    client.headers[API_KEY_HEADER] = other_tenants_admin
    before = notifications(desk)
    crossed = []

    for field in ID_FIELDS:
        for known in tenants_work:
            result = graphql.get_named_type(field.definition.type).name
            selection = LISTS_WHAT_IT_CHANGED.get(result, "__typename")
            text, variables = field.document(ids=known, selection=selection)
            response = await client.post("/graphql", json={"query": text, "variables": variables})
            answer = response.json()
            found = (answer.get("data") or {}).get(field.name)
            if isinstance(found, dict) and result in LISTS_WHAT_IT_CHANGED:
                found = found["applied"] or None
            typename = found.get("__typename", "") if isinstance(found, dict) else ""
            if found is not None and not typename.endswith(("Error", "Empty")):
                crossed.append(f"{field} with {known}: {answer}")

    assert crossed == []
    assert notifications(desk) == before
