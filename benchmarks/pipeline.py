"""Records through the pipeline: ingest to JetStream, score, and raise alerts in the event store.

Usage: python benchmarks/pipeline.py [--records N] [--postgres]
Uses the machine's NATS (127.0.0.1:4222) under a private subject root and stream prefix, a model
trained on a slice of the Fraud Detection Handbook's data, and a temporary SQLite event store (or a
temporary PostgreSQL database with --postgres). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import uvloop
from redis.asyncio import Redis

from vigil.application.features import InProcessWindowStore
from vigil.application.ingestion import FileIngestion, ingest_rows
from vigil.bootstrap import (
    build_alert_desk,
    build_intake,
    build_model_store,
    build_score_worker,
    open_entity_history,
    open_streams,
)
from vigil.cli_sources import apply_file
from vigil.infrastructure.detector_training import TrainingRequest, train_isolation_forest
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.settings import FeatureSettings, NatsSettings, Settings, StorageSettings

CARDS_CONTRACT = Path(__file__).resolve().parents[1] / "examples" / "sources" / "cards.yaml"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fdh_simulated_transactions.csv.gz"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
TRAIN_ROWS = 50_000


def settings_for(workdir: Path, database_url: str | None, redis: bool) -> Settings:
    token = uuid.uuid4().hex[:8]
    return Settings(
        storage=StorageSettings(data_dir=workdir, database_url=database_url),
        features=FeatureSettings(
            redis_url=REDIS if redis else None, redis_key_prefix=f"vigil-bench-{token}"
        ),
        nats=NatsSettings(
            url="nats://127.0.0.1:4222", subject_root=f"b{token}", stream_prefix=f"B{token}_"
        ),
    )


async def measure(settings: Settings, records: int) -> dict[str, float]:
    file = FileIngestion("default", "cards", DATA.name)
    alerts = build_alert_desk(settings)
    apply_file(alerts, "default", "bench", CARDS_CONTRACT, "benchmark")
    async with open_streams(settings, "bench") as streams, open_entity_history(settings) as history:
        intake = build_intake(settings, alerts, streams)
        contract = intake.contracts.contract("default", "cards").contract
        rows = itertools.islice(
            read_record_file(DATA, contract)[0], TRAIN_ROWS, TRAIN_ROWS + records
        )
        ingest = await ingest_rows(rows, file, intake)
        worker = build_score_worker(settings, streams, alerts, history, InProcessWindowStore())
        started = time.perf_counter()
        scored = raised = 0
        while scored < ingest.accepted:
            batch = await worker.feed.next_batch(worker.batch_size, 1.0)
            report = await worker.process(batch)
            scored += report.scored + report.dead_lettered
            raised += report.alerts_raised
        seconds = time.perf_counter() - started
        js = streams.client.jetstream()
        for name in ("RECORDS", "DLQ"):
            await js.delete_stream(settings.nats.stream(name))
    if settings.features.redis_url:
        redis = Redis.from_url(settings.features.redis_url)
        await redis.delete(
            *[k async for k in redis.scan_iter(f"{settings.features.redis_key_prefix}:*")]
        )
        await redis.aclose()
    return {
        "records": float(ingest.published),
        "ingest_records_per_s": ingest.records_per_s,
        "score_records_per_s": scored / seconds,
        "score_seconds": seconds,
        "alerts_raised": float(raised),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--redis", action="store_true", help="entity histories in Redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = f"vigil_bench_{uuid.uuid4().hex[:8]}" if args.postgres else None
        if database:
            with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]  # our own name
        try:
            settings = settings_for(
                Path(tmp), f"{POSTGRES}/{database}" if database else None, args.redis
            )
            request = TrainingRequest(
                source="cards",
                data=DATA,
                rows=TRAIN_ROWS,
                label="TX_FRAUD",
                exclude=["TX_FRAUD_SCENARIO", "TX_TIME_SECONDS", "TX_TIME_DAYS"],
            )
            train_isolation_forest(request, build_model_store(settings))
            result = uvloop.run(measure(settings, args.records))
        finally:
            if database:
                with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')  # type: ignore[arg-type]
    store = "postgresql" if args.postgres else "sqlite"
    features = "redis" if args.redis else "in_process"
    print(f"{'event store':<24}{store:>14}\n{'entity history':<24}{features:>14}")
    for key, value in result.items():
        print(f"{key:<24}{value:>14,.1f}")
    print(
        json.dumps({"benchmark": "pipeline", "event_store": store, "features": features, **result})
    )


if __name__ == "__main__":
    main()
