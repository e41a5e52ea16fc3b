"""Brings the read-model schema to Alembic's head, from code or from the `alembic` command."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import vigil
from vigil.infrastructure.read_model.engine import create_read_engine

MIGRATIONS = Path(vigil.__file__).resolve().parents[1] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration without an ini file, so nothing depends on the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not a main option: configparser would read a '%' in a password.
    config.attributes["url"] = url
    return config


async def upgrade(target: AsyncEngine | str) -> None:
    """Migrates the read model to head on this engine (or a throwaway one for a URL)."""
    engine = create_read_engine(target) if isinstance(target, str) else target
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_on)
    finally:
        if isinstance(target, str):
            await engine.dispose()


def upgrade_blocking(url: str) -> None:
    """The same, for callers without an event loop; env.py runs its own."""
    command.upgrade(alembic_config(url), "head")


def _upgrade_on(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
