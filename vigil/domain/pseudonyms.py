"""Keyed tokens for personal values: the same person always gets the same token, so features
and links still work, and without the key nobody can tell who a token stands for.

A token is an HMAC-SHA256 of the tenant and the value's canonical text, so two tenants never
share one and `42`, `42.0` and `"42"` are one customer. Changing the key changes every token:
entity histories start again and old alerts no longer link to new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

PSEUDONYM_PREFIX = "tok_"
PSEUDONYM_HEX = 32
"""128 bits of the HMAC: collisions stay out of reach for any population of people."""


REMEMBERED = 1 << 16
"""Tokens kept at hand: a customer's next record costs a lookup instead of an HMAC."""


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a tokenisation key needs at least 16 bytes")
        keyed = hmac.new(key, digestmod=hashlib.sha256)

        @lru_cache(maxsize=REMEMBERED)
        def token_of(tenant_id: str, text: str) -> str:
            mac = keyed.copy()
            mac.update(f"{tenant_id}\x1f{text}".encode())
            return PSEUDONYM_PREFIX + mac.hexdigest()[:PSEUDONYM_HEX]

        self._token_of = token_of

    def token(self, tenant_id: str, value: object) -> str:
        return self._token_of(tenant_id, canonical(value))

    def record(
        self, tenant_id: str, record: Mapping[str, Any], fields: Iterable[str]
    ) -> dict[str, Any]:
        """The record with each personal field that has a value replaced by its token; a missing
        or null field stays as it is, since its absence identifies nobody."""
        tokenised = dict(record)
        for name in fields:
            value = tokenised.get(name)
            if value is not None:
                tokenised[name] = self.token(tenant_id, value)
        return tokenised


def canonical(value: object) -> str:
    """One text per value: whole floats as integers, structures as sorted JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
