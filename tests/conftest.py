"""Fixtures shared by every layer of tests: isolated databases, streams and key prefixes.

Each test run creates its own PostgreSQL database, NATS subject root and stream prefix, and
Redis key prefix, so runs on one machine never see each other's data.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats
import psycopg
import pytest
import redis as redis_sync
from redis.asyncio import Redis

from vigil.infrastructure.settings import (
    AuthSettings,
    FeatureSettings,
    NatsSettings,
    ServerSettings,
    Settings,
    StorageSettings,
)

POSTGRES_ADMIN_URL = os.environ.get(
    "VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("VIGIL_TEST_NATS", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("VIGIL_TEST_REDIS", "redis://127.0.0.1:6379/0")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FDH_TRANSACTIONS = SHARED_DATA / "fdh_simulated_transactions.csv.gz"


def _run_token() -> str:
    return uuid.uuid4().hex[:10]


def _admin(sql: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.encode())


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"vigil_t_{_run_token()}"
    _admin(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def nats_settings() -> Iterator[NatsSettings]:
    """Subjects and stream names of the machine's JetStream that belong to this test alone."""
    token = _run_token()
    settings = NatsSettings(url=NATS_URL, subject_root=f"t{token}", stream_prefix=f"T{token}_")
    yield settings
    # Teardown may run inside a test's event loop, so the clean-up gets a loop of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _delete_streams(settings)).result()


async def _delete_streams(settings: NatsSettings) -> None:
    client = await nats.connect(settings.server_url)
    try:
        js = client.jetstream()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(settings.stream_prefix):
                await js.delete_stream(info.config.name)
    finally:
        await client.close()


FAST_HASHING = AuthSettings(
    argon2_time_cost=1, argon2_memory_cost=8 * 1024, argon2_parallelism=1, principal_cache_seconds=0
)
"""Argon2id still, at the lowest costs it accepts: tests register users by the hundred. Every
request proves its caller afresh, so a revocation shows at once."""


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """The embedded default: SQLite files in a temporary data directory."""
    return Settings(
        storage=StorageSettings(
            data_dir=tmp_path / "var", database_url=None, read_database_url=None
        ),
        nats=NatsSettings(url=None),
        features=FeatureSettings(redis_url=None),
        server=ServerSettings(),
        auth=FAST_HASHING,
    )


@pytest.fixture
def postgres_settings(
    tmp_path: Path, postgres_url: str, nats_settings: NatsSettings, redis_prefix: str
) -> Iterator[Settings]:
    """The production shape: PostgreSQL, the machine's NATS and Redis, private to this test."""
    yield Settings(
        storage=StorageSettings(data_dir=tmp_path / "var", database_url=postgres_url),
        nats=nats_settings,
        features=FeatureSettings(redis_url=REDIS_URL, redis_key_prefix=redis_prefix),
        server=ServerSettings(),
        auth=FAST_HASHING,
    )
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{redis_prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def card_slice(tmp_path: Path) -> Path:
    """The first 3,000 transactions of the Fraud Detection Handbook's data set, as plain CSV."""
    path = tmp_path / "slice.csv"
    with gzip.open(FDH_TRANSACTIONS, "rt") as source, path.open("w") as target:
        target.writelines(itertools.islice(source, 3001))
    return path


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix on the machine's Redis that belongs to this test alone."""
    return f"vigil-t{_run_token()}"


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    """A client of the machine's Redis; every key under this test's prefix is deleted after."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(f"{redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
