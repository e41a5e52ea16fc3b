"""Settings: embedded defaults unless `VIGIL_*` names the real services."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.infrastructure.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "VIGIL_DATABASE_URL",
        "VIGIL_READ_DATABASE_URL",
        "VIGIL_NATS_URL",
        "VIGIL_REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path / "var"))


def test_without_urls_everything_is_embedded(tmp_path: Path) -> None:
    settings = Settings()
    env = settings.storage.event_store_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(tmp_path / "var" / "events.db")
    assert settings.storage.read_model_url().startswith("sqlite+aiosqlite:///")
    assert settings.nats.is_embedded
    assert settings.nats.server_url == "nats://127.0.0.1:4250"
    assert settings.features.redis_url is None


def test_the_real_services_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_URL", "postgresql://vigil:s%40cret@db.internal:6543/fraud")
    monkeypatch.setenv("VIGIL_NATS_URL", "nats://bus:4222")
    monkeypatch.setenv("VIGIL_REDIS_URL", "redis://cache:6379/2")
    settings = Settings()
    env = settings.storage.event_store_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.internal",
        "6543",
        "fraud",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("vigil", "s@cret")
    assert (
        settings.storage.read_model_url()
        == "postgresql+asyncpg://vigil:s%40cret@db.internal:6543/fraud"
    )
    assert not settings.nats.is_embedded
    assert settings.nats.server_url == "nats://bus:4222"
    assert settings.features.redis_url == "redis://cache:6379/2"


def test_subjects_and_streams_follow_their_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_NATS_SUBJECT_ROOT", "bank2")
    monkeypatch.setenv("VIGIL_NATS_STREAM_PREFIX", "BANK2_")
    nats = Settings().nats
    assert nats.subject("records", "cards") == "bank2.records.cards"
    assert nats.stream("RECORDS") == "BANK2_RECORDS"


def test_an_encryption_key_turns_on_the_event_store_cipher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_ENCRYPTION_KEY", "a" * 44)
    env = Settings().storage.event_store_env()
    assert env["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"
    assert env["CIPHER_KEY"] == "a" * 44


def test_workers_started_by_the_platform_leave_table_creation_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().storage.event_store_env()["CREATE_TABLE"] == "y"
    monkeypatch.setenv("VIGIL_CREATE_TABLES", "false")
    assert Settings().storage.event_store_env()["CREATE_TABLE"] == "n"
