"""Ports: what the use cases need from the outside, as Protocols that adapters implement."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Tells the time; injected so tests and replays decide what 'now' is."""


def system_clock() -> datetime:
    return datetime.now(UTC)
