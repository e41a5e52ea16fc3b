"""`vigil worker deliver` killed with SIGKILL while a receiver holds the request it sent: a new
worker sends once more with the same idempotency key, the receiver drops the repeat, and the
delivery is recorded once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.delivery_receivers import http_receiver
from tests.integration.test_escalation_delivery import (
    SECRET,
    attempts_of,
    deliver_worker,
    delivery_when,
    escalated_alert,
    relay,
    subscribe,
)
from vigil.bootstrap import build_alert_desk
from vigil.infrastructure.settings import (
    DeliverySettings,
    FeatureSettings,
    NatsSettings,
    Settings,
    StorageSettings,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.nats]


def worker_env(settings: Settings) -> dict[str, str]:
    nats, options = settings.nats, settings.delivery
    return {
        **os.environ,
        "VIGIL_DATA_DIR": str(settings.storage.data_dir),
        "VIGIL_DATABASE_URL": settings.storage.database_url or "",
        "VIGIL_NATS_URL": nats.server_url,
        "VIGIL_NATS_SUBJECT_ROOT": nats.subject_root,
        "VIGIL_NATS_STREAM_PREFIX": nats.stream_prefix,
        "VIGIL_DELIVERY_ACK_WAIT_SECONDS": str(options.ack_wait_seconds),
        "VIGIL_DELIVERY_ATTEMPT_TIMEOUT_SECONDS": "30",
    }


async def test_a_killed_worker_process_loses_nothing_and_repeats_once(
    tmp_path: Path, postgres_url: str, nats_settings: NatsSettings
) -> None:
    settings = Settings(
        storage=StorageSettings(data_dir=tmp_path / "var", database_url=postgres_url),
        nats=nats_settings,
        features=FeatureSettings(redis_url=None),
        delivery=DeliverySettings(ack_wait_seconds=2.0, first_retry_seconds=0.05),
    )
    desk = build_alert_desk(settings)
    try:
        async with http_receiver() as receiver:
            endpoint = receiver.endpoint("/hook", secret=SECRET, hold=asyncio.Event())
            hook = subscribe(desk, "soc-hook", "webhook", url=receiver.url("/hook"), secret=SECRET)
            alert_id, version = escalated_alert(desk)
            await relay(settings, desk)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "vigil",
                "worker",
                "deliver",
                env=worker_env(settings),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await asyncio.wait_for(endpoint.arrived.wait(), 60)
            finally:
                process.send_signal(signal.SIGKILL)
                await asyncio.wait_for(process.wait(), 10)
            assert endpoint.hold is not None
            endpoint.hold.set()
            pending = await delivery_when(desk, alert_id, version, hook, lambda d: True)
            assert pending.attempts == 0

            async with deliver_worker(settings, desk):
                delivery = await delivery_when(desk, alert_id, version, hook)

        assert delivery.delivered
        assert [r.key for r in endpoint.requests] == [delivery.key, delivery.key]
        assert endpoint.processed == [delivery.key]
        assert [a.outcome for a in attempts_of(desk, delivery)] == ["delivered"]
    finally:
        desk.close()
