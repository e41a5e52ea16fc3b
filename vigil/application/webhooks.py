"""Signed webhooks: a sender proves a delivery with an HMAC-SHA256 of its timestamp and body
under the source's shared secret; a stale timestamp or a signature seen before is refused.

The signed message is `<timestamp>.<body>`, the timestamp in whole seconds since the epoch, the
signature `v1=<hex>` (several, space-separated, while a secret is being rotated). Signing the
timestamp with the body means an old delivery cannot be sent again with a fresh time, and
remembering each accepted signature for the tolerance window means it cannot be sent again at
all.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from vigil.application.ports import Clock

SCHEME = "v1"


class WebhookRefused(Exception):
    """The delivery is not proven: `field` names the header at fault."""

    def __init__(self, field: str, reason: str, status: int = 401) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status


class SeenSignatures(Protocol):
    """Signatures accepted lately; shared by every server in Redis, in process otherwise."""

    async def first_time(self, signature: str, ttl_seconds: int) -> bool:
        """Remembers the signature for `ttl_seconds`; False when it was remembered already."""
        ...


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header a sender puts on a delivery (what Vigil's tests and docs use)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


@dataclass(frozen=True)
class WebhookVerifier:
    secrets: Mapping[str, str]
    """Per source (`cards`, or `tenant/cards` for a tenant other than the default), its secret."""
    seen: SeenSignatures
    clock: Clock
    default_tenant: str
    tolerance_seconds: int = 300

    def secret_of(self, tenant_id: str, source: str) -> str | None:
        key = source if tenant_id == self.default_tenant else f"{tenant_id}/{source}"
        return self.secrets.get(key)

    async def verify(
        self, tenant_id: str, source: str, timestamp: str | None, signature: str | None, body: bytes
    ) -> None:
        """Returns for a proven, first-time delivery; WebhookRefused otherwise."""
        secret = self.secret_of(tenant_id, source)
        if secret is None:
            if tenant_id == self.default_tenant:
                reason = f"no webhook secret is configured for {source!r}"
                raise WebhookRefused("source", reason, 404)
            reason = f"no webhook secret is configured for {source!r} in tenant {tenant_id!r}"
            raise WebhookRefused("Vigil-Tenant", reason, 404)
        at = self._timestamp(timestamp)
        offered = self._signatures(signature)
        expected = sign(secret, at, body)
        if not any(hmac.compare_digest(expected, each) for each in offered):
            raise WebhookRefused("Vigil-Signature", "does not match the body and timestamp")
        if not await self.seen.first_time(
            f"{tenant_id}/{source}/{expected}", 2 * self.tolerance_seconds
        ):
            raise WebhookRefused("Vigil-Signature", "this delivery was accepted before (a replay)")

    def _timestamp(self, header: str | None) -> int:
        if header is None or not header.strip().isdigit():
            raise WebhookRefused("Vigil-Timestamp", "must be whole seconds since the epoch")
        at = int(header.strip())
        drift = abs(self.clock().timestamp() - at)
        if drift > self.tolerance_seconds:
            reason = f"is {drift:.0f} s from now; at most {self.tolerance_seconds} s is accepted"
            raise WebhookRefused("Vigil-Timestamp", reason)
        return at

    def _signatures(self, header: str | None) -> list[str]:
        offered = [part for part in (header or "").split() if part.startswith(f"{SCHEME}=")]
        if not offered:
            raise WebhookRefused("Vigil-Signature", f"missing: send {SCHEME}=<hex HMAC-SHA256>")
        return offered
