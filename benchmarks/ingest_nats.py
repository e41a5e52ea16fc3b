"""The ingest worker's NATS path: raw card records off a nats source's subject, through intake,
onto the records stream.

Usage: python benchmarks/ingest_nats.py [--records N] [--batch-size B]
Registers the `cards` contract of examples/sources/cards.yaml as a nats source in a temporary
SQLite event store, publishes N raw transactions of the Fraud Detection Handbook's data set to
its subject with JetStream (a backlog on the INTAKE stream), then times one ingest worker taking
them all to the RECORDS stream: validated, tokenised and acknowledged. Uses the machine's NATS
(127.0.0.1:4222) under a private subject root and stream prefix. The worker's CPU per record is
reported beside the rate: on a machine shared with other work it varies less. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import uvloop
import yaml
from nats.js import JetStreamContext

from vigil.application.data_sources import apply_source
from vigil.bootstrap import build_alert_desk, build_ingest_worker, build_intake_feed, open_streams
from vigil.domain.source_contract import SourceContract, SourceType
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.settings import IngestSettings, NatsSettings, Settings, StorageSettings
from vigil.web.app import settle_heap

ROOT = Path(__file__).resolve().parents[1]
CARDS_CONTRACT = ROOT / "examples" / "sources" / "cards.yaml"
DATA = ROOT.parent / "shared" / "data" / "fdh_simulated_transactions.csv.gz"
IN_FLIGHT = 4000
"""Publishes awaited at a time while the backlog is made."""


def settings_for(workdir: Path) -> Settings:
    token = uuid.uuid4().hex[:8]
    return Settings(
        storage=StorageSettings(data_dir=workdir),
        nats=NatsSettings(
            url="nats://127.0.0.1:4222", subject_root=f"b{token}", stream_prefix=f"B{token}_"
        ),
        ingest=IngestSettings(mqtt_enabled=False),
    )


def cards_over_nats(subject: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CARDS_CONTRACT.read_text())
    document["source_type"] = "nats"
    document["config"]["subject"] = subject
    return document


def raw_records(contract: SourceContract, count: int) -> list[bytes]:
    rows = itertools.islice(read_record_file(DATA, contract)[0], count)
    return [json.dumps(row, separators=(",", ":")).encode() for row in rows]


async def until_taken(js: JetStreamContext, settings: Settings, count: int) -> None:
    """Until the records stream holds every record and the INTAKE stream, a work queue, none:
    each was stored and acknowledged."""
    records, intake = settings.nats.stream("RECORDS"), settings.nats.stream("INTAKE")
    while True:
        stored = (await js.stream_info(records)).state.messages
        if stored >= count and (await js.stream_info(intake)).state.messages == 0:
            return
        await asyncio.sleep(0.01)


async def measure(settings: Settings, records: int, batch_size: int) -> dict[str, float]:
    subject = f"{settings.nats.subject_root}.in.cards"
    desk = build_alert_desk(settings)
    document = cards_over_nats(subject)
    applied = apply_source(desk, FastJsonSchemaCompiler(), "default", "bench", document)
    bodies = raw_records(applied.source.contract, records)
    try:
        async with open_streams(settings, "bench-ingest") as streams:
            js = streams.client.jetstream()
            feeds = {SourceType.NATS: build_intake_feed(settings, streams)}
            worker = build_ingest_worker(settings, desk, streams, feeds, batch_size)
            await worker.refresh()

            started = time.perf_counter()
            for start in range(0, len(bodies), IN_FLIGHT):
                chunk = bodies[start : start + IN_FLIGHT]
                await asyncio.gather(*[await js.publish_async(subject, body) for body in chunk])
            published = time.perf_counter() - started

            settle_heap()  # as `vigil worker ingest` does once it is built
            stop = asyncio.Event()
            started, cpu = time.perf_counter(), time.process_time()
            running = asyncio.create_task(worker.run(stop, wait_seconds=0.2))
            await until_taken(js, settings, len(bodies))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            stop.set()
            await running
            for name in ("RECORDS", "DLQ", "DOMAIN", "INTAKE"):
                await js.delete_stream(settings.nats.stream(name))
    finally:
        desk.close()
    return {
        "records": float(len(bodies)),
        "publish_records_per_s": len(bodies) / published,
        "records_per_s": len(bodies) / seconds,
        "seconds": seconds,
        "worker_cpu_us_per_record": cpu / len(bodies) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = uvloop.run(measure(settings_for(Path(tmp)), args.records, args.batch_size))
    print(f"{'batch size':<24}{args.batch_size:>14,}")
    for key, value in result.items():
        print(f"{key:<24}{value:>14,.1f}")
    print(json.dumps({"benchmark": "ingest_nats", "batch_size": args.batch_size, **result}))


if __name__ == "__main__":
    main()
