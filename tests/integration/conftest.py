"""Fixtures of the integration tests: each runs once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.builders import TickingClock
from vigil.application.alert_desk import AlertDesk
from vigil.bootstrap import build_alert_desk, build_projection_runners, build_read_engine
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.settings import Settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    """The embedded default, then the production shape."""
    return request.getfixturevalue(f"{request.param}_settings")  # type: ignore[no-any-return]  # pytest's getfixturevalue is untyped


@pytest.fixture
def desk(settings: Settings) -> Iterator[AlertDesk]:
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
    settings: Settings, desk: AlertDesk, read_engine: AsyncEngine
) -> Callable[[], Awaitable[None]]:
    """Catches every read model up with everything the desk has recorded so far."""

    async def catch_up() -> None:
        for runner in build_projection_runners(settings, desk, read_engine):
            await runner.catch_up()

    return catch_up
