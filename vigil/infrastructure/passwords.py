"""Passwords hashed with argon2id; the parameters come from settings and travel in each hash."""

from __future__ import annotations

import argon2
from argon2.exceptions import Argon2Error, InvalidHashError

from vigil.application.identity_ports import PasswordHasher
from vigil.infrastructure.settings import Settings


class Argon2PasswordHasher(PasswordHasher):
    """Argon2id. Hashing and verifying take tens of milliseconds of CPU by design, so async
    callers run them in a thread (`anyio.to_thread.run_sync`)."""

    def __init__(self, time_cost: int = 3, memory_cost: int = 64 * 1024, parallelism: int = 4):
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Argon2PasswordHasher:
        auth = settings.auth
        return cls(auth.argon2_time_cost, auth.argon2_memory_cost, auth.argon2_parallelism)

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return self._argon2.verify(hashed, password)
        except (Argon2Error, InvalidHashError):
            # A mismatch, and a stored hash that is not argon2 at all, both mean "not this user".
            return False

    def needs_rehash(self, hashed: str) -> bool:
        """True when the hash was made with other parameters, or is not an argon2 hash."""
        try:
            return self._argon2.check_needs_rehash(hashed)
        except InvalidHashError:
            return True
