"""The relay: domain events from the event store's notification log onto the DOMAIN stream.

Usage: python benchmarks/relay.py [--events N] [--postgres]
Raises N alerts (one Raised event each, in saves of 500) in a temporary SQLite event store, or a
temporary PostgreSQL database with --postgres, then times one relay catching up with them on the
machine's NATS (127.0.0.1:4222) under a private subject root and stream prefix. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import uvloop

from vigil.bootstrap import build_alert_desk, build_relay, open_streams
from vigil.domain.alert import Detection, Severity
from vigil.infrastructure.settings import NatsSettings, Settings, StorageSettings

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
SAVE = 500


def settings_for(workdir: Path, database_url: str | None) -> Settings:
    token = uuid.uuid4().hex[:8]
    return Settings(
        storage=StorageSettings(data_dir=workdir, database_url=database_url),
        nats=NatsSettings(
            url="nats://127.0.0.1:4222", subject_root=f"b{token}", stream_prefix=f"B{token}_"
        ),
    )


def detection(n: int) -> Detection:
    return Detection(
        tenant_id="default",
        source="cards",
        record_id=f"tx-{n}",
        model_line="cards-iforest",
        model_version="ab" * 32,
        score=0.8,
        threshold=0.6,
        severity=Severity.HIGH,
        entity_id=f"customer-{n % 1000}",
        record={"TX_AMOUNT": 10.5 + n, "TERMINAL_ID": f"terminal-{n % 5000}"},
        occurred_at=datetime(2026, 11, 25, tzinfo=UTC),
        entity_context={"count_1h": 3.0, "mean_TX_AMOUNT_1h": 42.0},
    )


async def measure(settings: Settings, events: int, batch_size: int) -> dict[str, float]:
    desk = build_alert_desk(settings)
    for start in range(0, events, SAVE):
        desk.raise_alerts([detection(n) for n in range(start, min(start + SAVE, events))])
    try:
        async with open_streams(settings, "bench-relay") as streams:
            js = streams.client.jetstream()
            relay = build_relay(settings, desk, js, batch_size=batch_size)
            started = time.perf_counter()
            relayed = await relay.catch_up()
            seconds = time.perf_counter() - started
            stored = (await js.stream_info(settings.nats.stream("DOMAIN"))).state.messages
            for name in ("RECORDS", "DLQ", "DOMAIN"):
                await js.delete_stream(settings.nats.stream(name))
    finally:
        desk.close()
    assert relayed == stored == events, (relayed, stored, events)
    return {"events": float(events), "events_per_s": events / seconds, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = f"vigil_bench_{uuid.uuid4().hex[:8]}" if args.postgres else None
        if database:
            with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]  # our own name
        try:
            url = f"{POSTGRES}/{database}" if database else None
            result = uvloop.run(measure(settings_for(Path(tmp), url), args.events, args.batch_size))
        finally:
            if database:
                with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')  # type: ignore[arg-type]
    store = "postgresql" if args.postgres else "sqlite"
    print(f"{'event store':<24}{store:>14}\n{'batch size':<24}{args.batch_size:>14,}")
    for key, value in result.items():
        print(f"{key:<24}{value:>14,.1f}")
    print(json.dumps({"benchmark": "relay", "event_store": store, **result}))


if __name__ == "__main__":
    main()
