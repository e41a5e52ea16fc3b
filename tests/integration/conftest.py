"""Fixtures of the integration tests: each runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import TickingClock
from tests.graphql_client import ANALYST, TENANT
from vigil.application.casework import Casework
from vigil.application.identity import issue_api_key, register_user
from vigil.bootstrap import (
    build_alert_desk,
    build_case_file_storage,
    build_identity,
    build_password_hasher,
    build_projection_runner,
    build_read_engine,
    build_read_models,
    build_realtime_scoring,
    build_source_desk,
    build_training_desk,
)
from vigil.cli_sources import apply_file
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.settings import Settings
from vigil.web.app import LifespanHook, WebDeps, create_app
from vigil.web.auth import API_KEY_HEADER
from vigil.web.case_files import CaseFileStorage


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    """The embedded default, then the production shape."""
    return request.getfixturevalue(f"{request.param}_settings")  # type: ignore[no-any-return]  # pytest's getfixturevalue is untyped


@pytest.fixture
def desk(settings: Settings) -> Iterator[Casework]:
    """The alerts application on an empty event store, its clock ticking a second a call."""
    app = build_alert_desk(settings, clock=TickingClock())
    yield app
    app.close()


@pytest.fixture
async def read_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The read-model database, migrated to head."""
    engine = build_read_engine(settings)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def project(
    settings: Settings, desk: Casework, read_engine: AsyncEngine
) -> Callable[[], Awaitable[None]]:
    """Catches every read model up with everything the desk has recorded so far."""

    async def catch_up() -> None:
        await build_projection_runner(settings, desk, read_engine).catch_up()

    return catch_up


@pytest.fixture
def startup_hooks() -> list[LifespanHook]:
    """What the app runs as it starts, before it is ready: nothing, unless a module watches."""
    return []


@pytest.fixture
def case_file_storage(settings: Settings) -> CaseFileStorage:
    """Case files in the test's data directory, within the configured limit."""
    return build_case_file_storage(settings)


@pytest.fixture
def cards(sqlite_settings: Settings) -> Settings:
    """The embedded store with `examples/sources/cards.yaml` applied, as `vigil sources apply`."""
    desk = build_alert_desk(sqlite_settings)
    try:
        documents = Path(__file__).resolve().parents[2] / "examples" / "sources" / "cards.yaml"
        apply_file(desk, "default", "dana", documents, "")
    finally:
        desk.close()
    return sqlite_settings


@pytest.fixture
def caller_key(settings: Settings, desk: Casework) -> str:
    """An API key of the tenant's admin, named as the tests' analyst: the API key the client
    sends, which every field and route allows. Permission tests make callers of their own."""
    return api_key_of(settings, ANALYST, "admin")


def api_key_of(settings: Settings, username: str, *roles: str, tenant: str = TENANT) -> str:
    """Registers a user of the tenant (the test tenant unless named) with these roles and
    issues them an API key, on a desk of its own, so the tests' ticking clock is not moved."""
    desk = build_alert_desk(settings)
    try:
        hasher = build_password_hasher(settings)
        user = register_user(desk, hasher, tenant, "test-setup", username, PASSWORD, roles)
        expiry = desk.clock() + timedelta(days=30)
        return issue_api_key(desk, tenant, user.id, "test-setup", "tests", expiry).plaintext
    finally:
        desk.close()


PASSWORD = "correct horse battery staple"


@pytest.fixture
async def client(
    settings: Settings,
    desk: Casework,
    read_engine: AsyncEngine,
    startup_hooks: list[LifespanHook],
    case_file_storage: CaseFileStorage,
    caller_key: str,
) -> AsyncIterator[AsyncTestClient[Any]]:
    # The test client serves the app on its own event loop, so the app gets its own engine,
    # disposed by the shutdown hook exactly as the composition root does it.
    engine = build_read_engine(settings)
    identity = build_identity(settings)
    scoring, close_scoring = build_realtime_scoring(settings, desk)
    deps = WebDeps(
        alert_desk=desk,
        read_models=build_read_models(settings, engine),
        identity=identity.identity,
        csrf_secret="test-csrf-secret",
        case_files=case_file_storage,
        sources=build_source_desk(desk),
        scoring=scoring,
        training=build_training_desk(settings, desk),
        on_startup=startup_hooks,
        on_shutdown=[close_scoring, engine.dispose, identity.close],
    )
    async with AsyncTestClient(create_app(deps)) as test_client:
        test_client.headers[API_KEY_HEADER] = caller_key
        yield test_client
