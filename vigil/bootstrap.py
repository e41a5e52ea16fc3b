"""The composition root: every adapter is built here from settings, and nowhere else.

Nothing connects, opens or starts at import time; callers (the CLI, the tests) ask for what they
need, with the settings they choose.
"""

from __future__ import annotations

from vigil.application.alert_desk import AlertDesk
from vigil.application.ports import Clock, system_clock
from vigil.infrastructure.settings import Settings


def build_alert_desk(settings: Settings, clock: Clock = system_clock) -> AlertDesk:
    """The alerts application on the configured event store (SQLite or PostgreSQL)."""
    return AlertDesk(settings.storage.event_store_env(), clock=clock)
