"""Settings from `VIGIL_*` environment variables, one small class per concern.

Every URL, path and credential Vigil uses is read here and nowhere else. The defaults are the
embedded ones: SQLite files under the data directory, an embedded NATS server, in-process features.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    data_dir: Path = Path("var")
    """Where the embedded defaults keep their files: SQLite databases, NATS storage, models."""

    database_url: str | None = None
    """Event store: `postgresql://user@host:port/db`; unset means SQLite in the data directory."""

    read_database_url: str | None = None
    """Read-model database; unset means the event store's PostgreSQL, or a second SQLite file."""

    model_dir: Path | None = None
    """Model artifacts stored by sha256; unset means `<data_dir>/models`."""

    attachment_dir: Path | None = None
    """Case attachments stored by sha256; unset means `<data_dir>/attachments`."""

    training_dir: Path | None = None
    """The files model owners may train on over the API, by name; unset means
    `<data_dir>/training`."""

    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    """The largest file an analyst may attach to a case."""

    encryption_key: str | None = None
    """Base64 AES key for the event store's cipher; unset stores events unencrypted."""

    create_tables: bool = True
    """Whether a process creates the event store's tables; `vigil run` creates them once and
    starts its workers with this off, so they never race each other to do it."""

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url and self.database_url.startswith("postgres"))

    @property
    def models(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def attachments(self) -> Path:
        return self.attachment_dir or self.data_dir / "attachments"

    @property
    def training(self) -> Path:
        return self.training_dir or self.data_dir / "training"

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for this store."""
        env = {
            "CREATE_TABLE": "y" if self.create_tables else "n",
            "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        }
        if self.encryption_key:
            env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
            env["CIPHER_KEY"] = self.encryption_key
        if not self.is_postgres:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
            env["SQLITE_DBNAME"] = str(self.data_dir / "events.db")
            env["SQLITE_LOCK_TIMEOUT"] = "30"
            return env
        parts = urlsplit(self.database_url or "")
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=parts.path.lstrip("/"),
            POSTGRES_HOST=parts.hostname or "127.0.0.1",
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
        )
        return env

    def read_model_url(self) -> str:
        """SQLAlchemy async URL of the read-model database."""
        url = self.read_database_url or (self.database_url if self.is_postgres else None)
        if url is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite+aiosqlite:///{(self.data_dir / 'read.db').resolve()}"
        if url.startswith("sqlite:///"):
            return url.replace("sqlite:///", "sqlite+aiosqlite:///", 1)
        scheme, rest = url.split("://", 1)
        if scheme in ("postgres", "postgresql"):
            return f"postgresql+asyncpg://{rest}"
        return url


class NatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_NATS_", extra="ignore")

    url: str | None = None
    """A running NATS server with JetStream; unset means the embedded server."""

    embedded_port: int = 4250
    """Port of the embedded server that `vigil demo` starts when no URL is set."""

    subject_root: str = "vigil"
    """First token of every subject (`vigil.records.<source>`); tests use their own."""

    stream_prefix: str = ""
    """Prefix of every stream name (`RECORDS`, `DLQ`); tests use their own."""

    domain_stream_bytes: int = 1 << 30
    """Size the DOMAIN stream keeps, dropping its oldest events first. Never limited by age:
    the relay resumes from the stream's newest event, so that one must always be there."""

    @property
    def is_embedded(self) -> bool:
        return self.url is None

    @property
    def server_url(self) -> str:
        return self.url or f"nats://127.0.0.1:{self.embedded_port}"

    def subject(self, kind: str, source: str) -> str:
        return f"{self.subject_root}.{kind}.{source}"

    def stream(self, name: str) -> str:
        return f"{self.stream_prefix}{name}"


class FeatureSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    redis_url: str | None = None
    """Online feature store; unset keeps per-entity state in the worker's process."""

    redis_key_prefix: str = "vigil"
    """Prefix of every Redis key; tests use their own."""

    window_ttl_seconds: int | None = None
    """`VIGIL_WINDOW_TTL_SECONDS`: Redis forgets the window history of an entity unseen for this
    long (wall-clock), bounding memory; unset keeps every history until it ages out of its
    widest window by event time."""


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    default_tenant: str = "default"
    """Tenant of a single-team install; every aggregate, row and message carries one."""

    secret_key: str | None = None
    """Signs console CSRF tokens (and sessions later); the same in every server process.
    Unset, the embedded default keeps a random one in `<data_dir>/secret.key`."""


class PiiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_PII_", extra="ignore")

    fields: dict[str, list[str]] = Field(default_factory=dict)
    """Per source, record fields shown masked in the console, as JSON: `{"cards": ["PAN_LAST4"]}`;
    revealing them needs pii:reveal and is recorded. (A source's `pii_fields` never reach the
    console in clear at all: they are tokenised at ingest.)"""

    token_key: str | None = None
    """The key of the tokens that replace personal fields at ingest: every ingest process must
    share it, and changing it changes every token. Unset, it is derived from the secret key."""


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_INGEST_", extra="ignore")

    max_record_bytes: int = Field(default=256 * 1024, gt=0)
    """A record larger than this is refused to the dead letters."""

    max_request_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    """The largest REST ingest or webhook body; file uploads are streamed and not limited."""

    contract_refresh_seconds: float = Field(default=2.0, ge=0)
    """How soon an applied contract change reaches every ingest process."""

    webhook_secrets: dict[str, str] = Field(default_factory=dict)
    """Per source, the webhook signing secret, as JSON: `{"cards": "..."}`; a tenant other than
    the default one names its sources `tenant/source`."""

    webhook_tolerance_seconds: int = Field(default=300, gt=0)
    """How far a webhook's timestamp may be from now; a signature is accepted once within it."""

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    """The broker the MQTT bridge subscribes to: `mqtt://[user:password@]host[:port]`."""

    mqtt_client_id: str = "vigil-ingest"
    """The bridge's client id: with a persistent session, the broker keeps QoS 1 messages that
    arrive while the bridge is away. Two bridges on one broker need two ids."""

    mqtt_enabled: bool = True
    """Whether `vigil worker ingest` runs the MQTT bridge. One bridge per client id: further
    ingest workers, which share the NATS sources' work, run with this off."""


class AuthSettings(BaseSettings):
    """Tokens, login throttling and password hashing. Access tokens are signed with a key
    derived from `secret_key()`, so every server process must share `VIGIL_SECRET_KEY`."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_AUTH_", extra="ignore")

    issuer: str = "vigil"
    """`iss` of every access token; tokens from another issuer are refused."""

    audience: str = "vigil"
    """`aud` of every access token; tokens for another audience are refused."""

    access_token_ttl: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))
    """How long an access token is good for. Durations here are ISO 8601 in the environment:
    `VIGIL_AUTH_ACCESS_TOKEN_TTL=PT15M`, `VIGIL_AUTH_REFRESH_TOKEN_TTL=P14D`."""

    refresh_token_ttl: timedelta = Field(default=timedelta(days=14), gt=timedelta(0))
    """How long a refresh token is good for if unused; each rotation starts it again."""

    refresh_family_lifetime: timedelta = Field(default=timedelta(days=30), gt=timedelta(0))
    """How long one login can be kept alive by rotating, however often it is refreshed."""

    failures_per_username: int = Field(default=5, gt=0)
    """Failed logins for one username within the window before attempts must wait."""

    failures_per_address: int = Field(default=20, gt=0)
    """Failed logins from one client address, whatever the usernames, before it must wait."""

    failure_window: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))
    """How far back failed logins count."""

    first_lockout: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    """The wait once the limit is reached; it doubles with every further failure."""

    longest_lockout: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))
    """The wait never grows beyond this."""

    argon2_time_cost: int = Field(default=3, ge=1)
    """Argon2id passes (RFC 9106's second recommendation: t=3, m=64 MiB, p=4)."""

    argon2_memory_cost: int = Field(default=64 * 1024, ge=8 * 1024)
    """Argon2id memory in KiB."""

    argon2_parallelism: int = Field(default=4, ge=1)
    """Argon2id lanes."""

    principal_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a server keeps what a credential proved before reading the user again: a
    revoked key, a disabled user or a revoked role takes effect within this time. 0 reads the
    event store on every request."""

    redis_key_prefix: str | None = None
    """Prefix of the refresh-token and throttle keys in Redis; unset means
    `<VIGIL_REDIS_KEY_PREFIX>:auth`, so a test's own feature prefix covers them too."""


class SmtpSettings(BaseSettings):
    """The SMTP server email subscriptions are sent through."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 25
    from_address: str = Field(
        default="vigil@localhost", validation_alias=AliasChoices("from_address", "VIGIL_SMTP_FROM")
    )
    """`VIGIL_SMTP_FROM`: the sender of every notification."""
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    """Upgrade the connection with STARTTLS before logging in."""


class DeliverySettings(BaseSettings):
    """Escalation delivery: retries, timeouts and the console link in every notification."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_DELIVERY_", extra="ignore")

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        validation_alias=AliasChoices("public_url", "VIGIL_PUBLIC_URL"),
    )
    """`VIGIL_PUBLIC_URL`: the console as receivers reach it; links are `<url>/alerts/<id>`."""
    max_attempts: int = Field(default=8, ge=1)
    """Attempts before a delivery goes to the dead letters."""
    first_retry_seconds: float = Field(default=5.0, gt=0)
    """The wait after the first failed attempt; it doubles after each further one (jittered)."""
    longest_retry_seconds: float = Field(default=600.0, gt=0)
    attempt_timeout_seconds: float = Field(default=10.0, gt=0)
    """One attempt's whole time: connecting, sending and the receiver's answer."""
    per_receiver: int = Field(default=4, ge=1)
    """Attempts in flight to one subscription at once; more wait their turn on the stream."""
    ack_wait_seconds: float = Field(default=60.0, gt=0)
    """How long an order a sender took (and died with) waits before another sender gets it."""


def auth_key_prefix(settings: Settings) -> str:
    """Where refresh tokens and login failures live in Redis."""
    return settings.auth.redis_key_prefix or f"{settings.features.redis_key_prefix}:auth"


def derived_key(settings: Settings, purpose: bytes) -> bytes:
    """A 32-byte key of its own for one use of the secret key, so that a signature made for
    one purpose never passes for another."""
    return hmac.new(secret_key(settings).encode(), purpose, hashlib.sha256).digest()


def pii_token_key(settings: Settings) -> bytes:
    """The tokenisation key: the configured one, or one derived from the secret key."""
    if settings.pii.token_key:
        return settings.pii.token_key.encode()
    return derived_key(settings, b"vigil pii tokens")


def secret_key(settings: Settings) -> str:
    """The configured secret, or the data directory's own, made once and kept private."""
    if settings.server.secret_key:
        return settings.server.secret_key
    path = settings.storage.data_dir / "secret.key"
    if not path.exists():
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Settings(BaseSettings):
    """All of Vigil's settings: tests build one with overrides, the rest use `get_settings()`."""

    model_config = SettingsConfigDict(extra="ignore")

    storage: StorageSettings = Field(default_factory=StorageSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
