"""Identity's adapters: passwords, access tokens, and refresh tokens and login throttling both in
process and in the machine's Redis, which must answer alike."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import jwt
import pytest
from redis.asyncio import Redis

from vigil.application.identity_ports import InvalidToken, LoginThrottle, RefreshTokens
from vigil.infrastructure.access_tokens import REQUIRED_CLAIMS, JwtAccessTokens
from vigil.infrastructure.login_throttle import InProcessLoginThrottle, RedisLoginThrottle
from vigil.infrastructure.passwords import Argon2PasswordHasher
from vigil.infrastructure.refresh_tokens import InProcessRefreshTokens, RedisRefreshTokens
from vigil.infrastructure.settings import (
    AuthSettings,
    FeatureSettings,
    ServerSettings,
    Settings,
    StorageSettings,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
ALICE = UUID("00000000-0000-4000-8000-00000000a11c")


class StoppedClock:
    """Stands still until a test moves it on, so nothing here sleeps."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> StoppedClock:
    return StoppedClock()


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, redis_prefix: str) -> Settings:
    """Defaults but for a cheap argon2 and this test's own Redis keys and data directory."""
    return Settings(
        storage=StorageSettings(data_dir=tmp_path / "var"),
        features=FeatureSettings(redis_url=redis_url, redis_key_prefix=redis_prefix),
        server=ServerSettings(),
        auth=AuthSettings(argon2_time_cost=1, argon2_memory_cost=8 * 1024, argon2_parallelism=1),
    )


@pytest.fixture(params=["in_process", "redis"])
def refresh_tokens(
    request: pytest.FixtureRequest, settings: Settings, clock: StoppedClock, redis: Redis
) -> RefreshTokens:
    if request.param == "in_process":
        return InProcessRefreshTokens.from_settings(settings, clock)
    return RedisRefreshTokens.from_settings(settings, redis, clock)


@pytest.fixture(params=["in_process", "redis"])
def throttle(
    request: pytest.FixtureRequest, settings: Settings, clock: StoppedClock, redis: Redis
) -> LoginThrottle:
    if request.param == "in_process":
        return InProcessLoginThrottle.from_settings(settings, clock)
    return RedisLoginThrottle.from_settings(settings, redis, clock)


@pytest.fixture
def access_tokens(clock: StoppedClock) -> JwtAccessTokens:
    return JwtAccessTokens(KEY, issuer="vigil", audience="vigil", clock=clock)


# Passwords


def test_a_password_verifies_against_its_own_hash_only(settings: Settings) -> None:
    hasher = Argon2PasswordHasher.from_settings(settings)
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert hasher.verify(hashed, "correct horse")
    assert not hasher.verify(hashed, "correct hors")
    assert hashed != hasher.hash("correct horse"), "every hash has its own salt"


@pytest.mark.parametrize(
    "stored", ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$abc", "$2b$12$" + "a" * 53]
)
def test_a_malformed_hash_verifies_nothing_and_raises_nothing(
    settings: Settings, stored: str
) -> None:
    hasher = Argon2PasswordHasher.from_settings(settings)
    assert not hasher.verify(stored, "anything")
    assert hasher.needs_rehash(stored)


def test_a_hash_made_with_weaker_parameters_needs_rehashing(settings: Settings) -> None:
    weak = Argon2PasswordHasher.from_settings(settings)
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    hashed = weak.hash("pw")
    assert not weak.needs_rehash(hashed)
    assert stronger.needs_rehash(hashed)
    assert stronger.verify(hashed, "pw"), "an old hash still verifies until it is replaced"


# Access tokens


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))  # type: ignore[no-any-return]  # json is untyped


def test_an_access_token_gives_back_the_claims_it_was_issued_with(
    access_tokens: JwtAccessTokens,
) -> None:
    token, claims = access_tokens.issue(ALICE, "acme", "alice", ("analyst", "auditor"))
    assert access_tokens.verify(token) == claims
    assert (claims.user_id, claims.tenant_id, claims.username) == (ALICE, "acme", "alice")
    assert claims.roles == ("analyst", "auditor")
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert set(_payload(token)) == set(REQUIRED_CLAIMS)


def test_an_access_token_is_refused_once_expired_beyond_the_leeway(
    access_tokens: JwtAccessTokens, clock: StoppedClock
) -> None:
    token, _ = access_tokens.issue(ALICE, "acme", "alice", ("analyst",))
    clock.advance(minutes=15, seconds=5)
    access_tokens.verify(token)
    clock.advance(seconds=6)
    with pytest.raises(InvalidToken, match="expired"):
        access_tokens.verify(token)


def test_an_access_token_from_the_future_is_refused(
    access_tokens: JwtAccessTokens, clock: StoppedClock
) -> None:
    token, _ = access_tokens.issue(ALICE, "acme", "alice", ("analyst",))
    clock.advance(seconds=-60)
    with pytest.raises(InvalidToken, match="not valid yet"):
        access_tokens.verify(token)


def test_a_token_signed_with_another_key_is_refused(
    access_tokens: JwtAccessTokens, clock: StoppedClock
) -> None:
    forger = JwtAccessTokens(b"x" * 32, issuer="vigil", audience="vigil", clock=clock)
    token, _ = forger.issue(ALICE, "acme", "alice", ("admin",))
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        access_tokens.verify(token)


def test_an_unsigned_token_is_refused(access_tokens: JwtAccessTokens) -> None:
    token, _ = access_tokens.issue(ALICE, "acme", "alice", ("analyst",))
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{token.split('.')[1]}."
    with pytest.raises(InvalidToken, match="alg"):
        access_tokens.verify(unsigned)


@pytest.mark.filterwarnings("ignore:The HMAC key is 32 bytes long")
def test_a_token_signed_with_another_algorithm_and_the_right_key_is_refused(
    access_tokens: JwtAccessTokens,
) -> None:
    token, _ = access_tokens.issue(ALICE, "acme", "alice", ("analyst",))
    other = jwt.encode(_payload(token), KEY, algorithm="HS512")
    with pytest.raises(InvalidToken, match="alg"):
        access_tokens.verify(other)


@pytest.mark.parametrize(
    ("issuer", "audience", "refusal"),
    [("vigil", "billing", "(?i)audience"), ("someone-else", "vigil", "(?i)issuer")],
)
def test_a_token_for_another_audience_or_from_another_issuer_is_refused(
    clock: StoppedClock, access_tokens: JwtAccessTokens, issuer: str, audience: str, refusal: str
) -> None:
    elsewhere = JwtAccessTokens(KEY, issuer=issuer, audience=audience, clock=clock)
    token, _ = elsewhere.issue(ALICE, "acme", "alice", ("analyst",))
    with pytest.raises(InvalidToken, match=refusal):
        access_tokens.verify(token)


def test_a_token_whose_claims_were_edited_is_refused(access_tokens: JwtAccessTokens) -> None:
    token, _ = access_tokens.issue(ALICE, "acme", "alice", ("analyst",))
    header, _, signature = token.split(".")
    tampered = f"{header}.{_segment({**_payload(token), 'roles': ['admin']})}.{signature}"
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        access_tokens.verify(tampered)


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_token_missing_a_claim_is_refused(access_tokens: JwtAccessTokens, claim: str) -> None:
    token, _ = access_tokens.issue(ALICE, "acme", "alice", ("analyst",))
    payload = {name: value for name, value in _payload(token).items() if name != claim}
    with pytest.raises(InvalidToken, match=f'"{claim}"'):
        access_tokens.verify(jwt.encode(payload, KEY, algorithm="HS256"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b"])
def test_a_token_that_is_no_jwt_at_all_is_refused(
    access_tokens: JwtAccessTokens, token: str
) -> None:
    with pytest.raises(InvalidToken):
        access_tokens.verify(token)


def test_a_signing_key_shorter_than_32_bytes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtAccessTokens(b"k" * 31, issuer="vigil", audience="vigil")
    short = Settings(
        storage=StorageSettings(data_dir=tmp_path), server=ServerSettings(secret_key="s" * 20)
    )
    with pytest.raises(ValueError, match="VIGIL_SECRET_KEY"):
        JwtAccessTokens.from_settings(short)


def test_the_server_secret_makes_tokens_every_process_accepts(settings: Settings) -> None:
    """Two processes (here two adapters) with the data directory's secret agree."""
    token, claims = JwtAccessTokens.from_settings(settings).issue(ALICE, "acme", "alice", ())
    assert JwtAccessTokens.from_settings(settings).verify(token) == claims
    with pytest.raises(InvalidToken):
        JwtAccessTokens(KEY, "vigil", "vigil").verify(token)


# Refresh tokens


async def test_rotation_spends_a_token_for_the_next_of_its_family(
    refresh_tokens: RefreshTokens,
) -> None:
    first = await refresh_tokens.issue(ALICE, "acme")
    grant, second = await refresh_tokens.rotate(first)
    assert (grant.user_id, grant.tenant_id) == (ALICE, "acme")
    assert second != first
    next_grant, _ = await refresh_tokens.rotate(second)
    assert next_grant == grant


async def test_a_spent_token_that_comes_back_kills_its_whole_family(
    refresh_tokens: RefreshTokens,
) -> None:
    first = await refresh_tokens.issue(ALICE, "acme")
    other_login = await refresh_tokens.issue(ALICE, "acme")
    _, second = await refresh_tokens.rotate(first)
    with pytest.raises(InvalidToken, match="reused"):
        await refresh_tokens.rotate(first)
    with pytest.raises(InvalidToken):
        await refresh_tokens.rotate(second)
    await refresh_tokens.rotate(other_login)


async def test_logout_revokes_the_family_and_ignores_unknown_tokens(
    refresh_tokens: RefreshTokens,
) -> None:
    _, current = await refresh_tokens.rotate(await refresh_tokens.issue(ALICE, "acme"))
    await refresh_tokens.revoke(current)
    await refresh_tokens.revoke("never-issued")
    with pytest.raises(InvalidToken):
        await refresh_tokens.rotate(current)


async def test_revoking_a_user_revokes_every_one_of_their_logins_only(
    refresh_tokens: RefreshTokens,
) -> None:
    bob = uuid4()
    alices = [await refresh_tokens.issue(ALICE, "acme") for _ in range(3)]
    bobs = await refresh_tokens.issue(bob, "acme")
    await refresh_tokens.revoke_user(ALICE)
    for token in alices:
        with pytest.raises(InvalidToken):
            await refresh_tokens.rotate(token)
    grant, _ = await refresh_tokens.rotate(bobs)
    assert grant.user_id == bob
    await refresh_tokens.rotate(await refresh_tokens.issue(ALICE, "acme"))


async def test_of_two_concurrent_rotations_of_one_token_exactly_one_succeeds(
    refresh_tokens: RefreshTokens,
) -> None:
    token = await refresh_tokens.issue(ALICE, "acme")
    outcomes = await asyncio.gather(
        *(refresh_tokens.rotate(token) for _ in range(8)), return_exceptions=True
    )
    granted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(granted) == 1
    assert all(isinstance(o, InvalidToken) for o in outcomes if isinstance(o, BaseException))
    # The losers presented a spent token, as a thief would: the winner's login dies with them.
    with pytest.raises(InvalidToken):
        await refresh_tokens.rotate(granted[0][1])


async def test_an_unused_token_expires_but_each_rotation_starts_its_time_again(
    refresh_tokens: RefreshTokens, clock: StoppedClock
) -> None:
    token = await refresh_tokens.issue(ALICE, "acme")
    idle = await refresh_tokens.issue(ALICE, "acme")
    clock.advance(days=13)
    _, token = await refresh_tokens.rotate(token)
    clock.advance(days=1)
    with pytest.raises(InvalidToken, match="expired"):
        await refresh_tokens.rotate(idle)
    clock.advance(days=12)
    await refresh_tokens.rotate(token)


async def test_no_rotation_keeps_a_login_alive_beyond_its_lifetime(
    refresh_tokens: RefreshTokens, clock: StoppedClock
) -> None:
    token = await refresh_tokens.issue(ALICE, "acme")
    for _ in range(2):
        clock.advance(days=10)
        _, token = await refresh_tokens.rotate(token)
    clock.advance(days=10)
    with pytest.raises(InvalidToken, match="log in again"):
        await refresh_tokens.rotate(token)


async def test_redis_keeps_no_token_only_its_digest_and_every_key_expires(
    settings: Settings, redis: Redis, redis_prefix: str
) -> None:
    tokens = RedisRefreshTokens.from_settings(settings, redis)
    _, token = await tokens.rotate(await tokens.issue(ALICE, "acme"))
    keys = [key async for key in redis.scan_iter(f"{redis_prefix}:auth:refresh:*")]
    assert len(keys) == 4, "a family, two token digests and the user's set of families"
    for key in keys:
        assert token.encode() not in key
        assert await redis.ttl(key) > 0
        kind = await redis.type(key)
        stored = (
            [await redis.get(key)]
            if kind == b"string"
            else list((await redis.hgetall(key)).values())
            if kind == b"hash"
            else list(await redis.smembers(key))
        )
        assert all(token.encode() not in value for value in stored)


# Login throttling


async def fail(throttle: LoginThrottle, times: int, username: str, address: str) -> None:
    for _ in range(times):
        await throttle.failed(username, address)


async def test_a_username_waits_after_five_failures(throttle: LoginThrottle) -> None:
    await fail(throttle, 4, "alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.1") == 0
    await fail(throttle, 1, "alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.1") == 30
    assert await throttle.retry_after("alice", "10.9.9.9") == 30, "whatever the address"
    assert await throttle.retry_after("bob", "10.0.0.1") == 0


async def test_usernames_are_throttled_whatever_their_case(throttle: LoginThrottle) -> None:
    await fail(throttle, 3, "Alice", "10.0.0.1")
    await fail(throttle, 2, "ALICE", "10.0.0.2")
    assert await throttle.retry_after("alice", "10.0.0.3") == 30


async def test_an_address_waits_after_twenty_failures_across_usernames(
    throttle: LoginThrottle,
) -> None:
    for n in range(19):
        await throttle.failed(f"user-{n}", "10.0.0.1")
    assert await throttle.retry_after("someone", "10.0.0.1") == 0
    await throttle.failed("user-19", "10.0.0.1")
    assert await throttle.retry_after("someone", "10.0.0.1") == 30
    assert await throttle.retry_after("someone", "10.0.0.2") == 0


async def test_the_wait_counts_from_the_latest_failure_and_failures_age_out(
    throttle: LoginThrottle, clock: StoppedClock
) -> None:
    await fail(throttle, 5, "alice", "10.0.0.1")
    clock.advance(seconds=10)
    assert await throttle.retry_after("alice", "10.0.0.1") == 20
    clock.advance(seconds=20)
    assert await throttle.retry_after("alice", "10.0.0.1") == 0
    await fail(throttle, 1, "alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.1") == 60
    clock.advance(minutes=15)
    assert await throttle.retry_after("alice", "10.0.0.1") == 0
    await fail(throttle, 1, "alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.1") == 0, "all six aged out"


async def test_the_wait_doubles_with_every_further_failure_up_to_fifteen_minutes(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, 4, "alice", "10.0.0.1")
    waits = []
    for _ in range(8):
        await throttle.failed("alice", "10.0.0.1")
        waits.append(await throttle.retry_after("alice", "10.0.0.1"))
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]


async def test_a_success_clears_the_username_but_not_the_address(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, 20, "alice", "10.0.0.1")
    await throttle.succeeded("Alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.2") == 0
    assert await throttle.retry_after("alice", "10.0.0.1") == 30
