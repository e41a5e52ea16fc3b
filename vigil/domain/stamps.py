"""What every event of a tenant's aggregate carries: the tenant, who did it and when, and the
reason where the command takes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.domain.text import required_text


def event_stamp(
    tenant_id: str, actor: str, at: datetime, reason: str | None = None
) -> dict[str, Any]:
    """The event's common fields; InvalidCommand for an empty actor or a given empty reason."""
    stamp: dict[str, Any] = {
        "tenant_id": tenant_id,
        "actor": required_text("actor", actor),
        "timestamp": at,
    }
    if reason is not None:
        stamp["reason"] = required_text("reason", reason)
    return stamp
