"""The whole pipeline on PostgreSQL, NATS JetStream and Redis, each worker its own process.

Raw card transactions of the Fraud Detection Handbook are published to a `nats` source's subject;
`vigil worker ingest` checks them against the cards contract, tokenises the cardholder and puts
them on the records stream; `vigil worker score` computes their window features in Redis
(examples/pipelines/card_features.yaml), scores them in onnxruntime and raises alerts in the
event store; `vigil worker project` writes the alerts into the read model.

Throughput: --records transactions published to JetStream while the ingest worker is paused, then
records/s from its resuming until the score worker has acknowledged the last: the pipeline
draining a backlog, without the publisher (this process) on the same two cores.
Latency: then --seconds of transactions at --rate a second (default: 80% of the throughput
measured); each alert's latency runs from its transaction's publish to its row in the read
model's alerts table (polled every 20 ms, so up to 20 ms is the poll's).

The model is trained on the first --train-rows transactions (alert rate 1%), and the benchmark
streams the transactions from the start of the file, so the windows the score worker computes
are the ones the model was trained on. The CPU time of every worker and of the NATS, Redis and
PostgreSQL servers is read from /proc, to say what
limits the pipeline.

Usage: python benchmarks/pipeline.py [--records N] [--seconds S] [--rate R] [--train-rows N]
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import psycopg
import uvloop
import yaml
from redis.asyncio import Redis

from vigil.application.data_sources import apply_source
from vigil.application.model_lines import register_version
from vigil.application.records import unpack_records
from vigil.bootstrap import build_alert_desk, build_model_store, open_streams
from vigil.cli_features import pipeline_features
from vigil.domain.source_contract import SourceContract
from vigil.infrastructure.detector_training import (
    TrainingRequest,
    train_model_on_features,
)
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.nats.acked_batches import AckedBatches, Outgoing
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.settings import (
    FeatureSettings,
    IngestSettings,
    NatsSettings,
    ServerSettings,
    Settings,
    StorageSettings,
)

ROOT = Path(__file__).resolve().parents[1]
CARDS_CONTRACT = ROOT / "examples" / "sources" / "cards.yaml"
PIPELINE = ROOT / "examples" / "pipelines" / "card_features.yaml"
DATA = ROOT.parent / "shared" / "data" / "fdh_simulated_transactions.csv.gz"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
NATS = "nats://127.0.0.1:4222"
REDIS = "redis://127.0.0.1:6379/0"
WORKERS = ("ingest", "score", "project")
SERVERS = {"nats-server": "nats", "redis-server": "redis", "postgres": "postgres"}
"""The services' processes by the name the kernel gives them, and what the figures call them."""
POLL_SECONDS = 0.02
PUBLISH_WINDOW = 5_000
"""Publishes in flight before their acks are awaited."""


def settings_for(workdir: Path, database_url: str) -> Settings:
    token = uuid.uuid4().hex[:8]
    return Settings(
        storage=StorageSettings(data_dir=workdir, database_url=database_url),
        features=FeatureSettings(redis_url=REDIS, redis_key_prefix=f"vigil-bench-{token}"),
        nats=NatsSettings(url=NATS, subject_root=f"b{token}", stream_prefix=f"B{token}_"),
        server=ServerSettings(secret_key=uuid.uuid4().hex),
        ingest=IngestSettings(mqtt_enabled=False),
    )


def environment(settings: Settings) -> dict[str, str]:
    """The settings as the worker processes read them."""
    storage, nats, features = settings.storage, settings.nats, settings.features
    return {
        **os.environ,
        "VIGIL_DATA_DIR": str(storage.data_dir),
        "VIGIL_DATABASE_URL": storage.database_url or "",
        "VIGIL_NATS_URL": nats.server_url,
        "VIGIL_NATS_SUBJECT_ROOT": nats.subject_root,
        "VIGIL_NATS_STREAM_PREFIX": nats.stream_prefix,
        "VIGIL_REDIS_URL": features.redis_url or "",
        "VIGIL_REDIS_KEY_PREFIX": features.redis_key_prefix,
        "VIGIL_SECRET_KEY": settings.server.secret_key or "",
        "VIGIL_INGEST_MQTT_ENABLED": "false",
    }


def intake_subject(settings: Settings) -> str:
    return f"{settings.nats.subject_root}in.cards"


def register_cards(settings: Settings) -> None:
    """The cards contract, as a nats source on the benchmark's own subject."""
    document = yaml.safe_load(CARDS_CONTRACT.read_text())
    document["source_type"] = "nats"
    document["config"]["subject"] = intake_subject(settings)
    desk = build_alert_desk(settings)
    try:
        apply_source(desk, FastJsonSchemaCompiler(), "default", "bench", document, "benchmark")
    finally:
        desk.close()


def train(settings: Settings, rows: int) -> None:
    features = uvloop.run(
        pipeline_features(settings, PIPELINE, DATA, "default", rows=rows, label="TX_FRAUD")
    )
    # No hold-out: the benchmark streams the training rows themselves, so their own scores set
    # the bands that give its 1% of alerts.
    request = TrainingRequest(
        source="cards", data=DATA, label="TX_FRAUD", alert_rate=0.01, holdout=0.0
    )
    card = train_model_on_features(request, features, build_model_store(settings))
    desk = build_alert_desk(settings)
    try:
        register_version(desk, "default", "benchmark", card)  # the line's first: its champion
    finally:
        desk.close()
    print(card.summary().splitlines()[0], file=sys.stderr)


def raw_records(count: int) -> list[tuple[str, bytes]]:
    """The first `count` transactions as an outside publisher sends them: JSON objects."""
    contract = SourceContract.from_document(yaml.safe_load(CARDS_CONTRACT.read_text()))
    rows = itertools.islice(read_record_file(DATA, contract)[0], count)
    return [
        (str(row["TRANSACTION_ID"]), json.dumps(row, separators=(",", ":")).encode())
        for row in rows
        if isinstance(row, dict)
    ]


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> dict[str, float]:
    """CPU seconds of every process of each service on this machine (PostgreSQL's backends
    summed), so a service's share of the work can be told from the workers'."""
    seconds = dict.fromkeys(SERVERS.values(), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            name = SERVERS.get((entry / "comm").read_text().strip())
            if name:
                seconds[name] += process_cpu_seconds(int(entry.name))
    return seconds


class Worker:
    """`vigil worker NAME` as a process of its own, its CPU time read from /proc."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # our own command
                [sys.executable, "-m", "vigil", "worker", name],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def check(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker {self.name} stopped:\n{tail}")


async def publish(
    batches: AckedBatches, subject: str, records: Sequence[tuple[str, bytes]]
) -> None:
    """One message a record, as an outside publisher sends them, `PUBLISH_WINDOW` in flight."""
    for start in range(0, len(records), PUBLISH_WINDOW):
        chunk = records[start : start + PUBLISH_WINDOW]
        await batches.publish([Outgoing(subject, body) for _, body in chunk])


async def drained(js: Any, settings: Settings, workers: Sequence[Worker]) -> None:
    """Until the ingest and score workers have acknowledged everything published."""
    consumers = (("INTAKE", "ingest"), ("RECORDS", "score"))
    while True:
        for worker in workers:
            worker.check()
        idle = True
        for stream, durable in consumers:
            try:
                info = await js.consumer_info(settings.nats.stream(stream), durable)
            except Exception:  # not made yet: the worker is starting
                idle = False
                break
            idle = idle and info.num_pending == 0 and info.num_ack_pending == 0
        if idle and (await js.stream_info(settings.nats.stream("INTAKE"))).state.messages == 0:
            return
        await asyncio.sleep(0.05)


async def projected(conn: psycopg.AsyncConnection[Any], since: float) -> list[tuple[str, float]]:
    cursor = await conn.execute(
        "SELECT record_id, extract(epoch FROM raised_at) FROM alerts WHERE raised_at >= "
        "to_timestamp(%s)",
        (since,),
    )
    return [(str(r), float(t)) for r, t in await cursor.fetchall()]


async def alert_count(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT count(*) FROM alerts")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def settled_count(conn: psycopg.AsyncConnection[Any]) -> int:
    """The read model's alerts once the projection stops adding any."""
    last, still = -1, 0
    while still < 10:
        count = await alert_count(conn)
        still = still + 1 if count == last else 0
        last = count
        await asyncio.sleep(0.1)
    return last


async def paced(
    batches: AckedBatches,
    subject: str,
    records: Sequence[tuple[str, bytes]],
    rate: float,
    sent: dict[str, float],
) -> None:
    """Publishes at `rate` a second in 10 ms ticks, noting each record's publish time in `sent`
    as it goes (the watcher reads it meanwhile)."""
    tick, started = 0.01, time.perf_counter()
    per_tick = max(1, round(rate * tick))
    for n, start in enumerate(range(0, len(records), per_tick)):
        ahead = started + n * tick - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
        chunk = records[start : start + per_tick]
        sent.update((record_id, time.time()) for record_id, _ in chunk)
        await publish(batches, subject, chunk)


async def latencies(
    conn: psycopg.AsyncConnection[Any], sent: dict[str, float], since: float, done: asyncio.Event
) -> list[float]:
    """Publish-to-read-model seconds of each alert on the records sent, as they appear."""
    seen: dict[str, float] = {}
    quiet = 0
    while quiet < 50:  # a second after publishing ends with nothing new
        before = len(seen)
        now = time.time()
        for record_id, _ in await projected(conn, since):
            if record_id not in seen and record_id in sent:
                seen[record_id] = now - sent[record_id]
        quiet = quiet + 1 if done.is_set() and len(seen) == before else 0
        await asyncio.sleep(POLL_SECONDS)
    return list(seen.values())


def percentile(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def measure(
    settings: Settings, records: list[tuple[str, bytes]], count: int, rate: float | None,
    seconds: float, logs: Path,
) -> dict[str, float]:  # fmt: skip
    env = environment(settings)
    workers = [Worker(name, env, logs) for name in WORKERS]
    conn = await psycopg.AsyncConnection.connect(
        settings.storage.database_url or "", autocommit=True
    )
    try:
        async with open_streams(settings, "bench-publisher") as streams:
            js = streams.client.jetstream()
            # Acks counted on one subscription, not a future each (nats-py's publish_async):
            # the publisher shares the two cores with what it measures.
            batches = AckedBatches(streams.client)
            subject = intake_subject(settings)
            # Until the ingest worker captures the subject, a publish finds no stream.
            await wait_for_intake(js, settings, subject, workers)
            await drained(js, settings, workers)
            # The backlog is published with the ingest worker paused, so the publisher (this
            # process, on the same two cores) is not what is measured.
            ingest = workers[WORKERS.index("ingest")]
            ingest.process.send_signal(signal.SIGSTOP)
            began = time.perf_counter()
            await publish(batches, subject, records[:count])
            published = time.perf_counter() - began
            cpu_before = {w.name: w.cpu_seconds() for w in workers} | server_cpu_seconds()
            started = time.perf_counter()
            ingest.process.send_signal(signal.SIGCONT)
            await drained(js, settings, workers)
            elapsed = time.perf_counter() - started
            cpu_after = {w.name: w.cpu_seconds() for w in workers} | server_cpu_seconds()
            cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
            raised = await settled_count(conn)

            rate = rate or 0.8 * count / elapsed
            later = records[count : count + int(rate * seconds)]
            done, since = asyncio.Event(), time.time() - 1
            sent_at: dict[str, float] = {}
            on_stream: dict[str, float] = {}

            async def stored(msg: Any) -> None:
                now = time.time()
                for line in unpack_records(msg.data):
                    on_stream[orjson.loads(line)["record_id"]] = now

            # Core NATS hears what JetStream stores on the records subjects: the ingest part.
            listening = await streams.client.subscribe(
                settings.nats.subject("records", ">"), cb=stored, pending_msgs_limit=-1
            )
            watcher = asyncio.create_task(latencies(conn, sent_at, since, done))
            await paced(batches, subject, later, rate, sent_at)
            done.set()
            waited = await watcher
            await listening.unsubscribe()
            ingested = [on_stream[r] - sent_at[r] for r in sent_at if r in on_stream]
            await drained(js, settings, workers)
    finally:
        for worker in workers:
            worker.stop()
        await conn.close()
    return {
        "records": float(count),
        "records_per_s": count / elapsed,
        "publish_records_per_s": count / published,
        "seconds": elapsed,
        "alerts": float(raised),
        "alert_rate": raised / count,
        **{f"{name}_cpu_us_per_record": cpu[name] / count * 1e6 for name in cpu},
        "latency_rate_records_per_s": rate,
        "latency_records": float(len(later)),
        "latency_alerts": float(len(waited)),
        "ingest_p50_ms": percentile(ingested, 50) * 1e3,
        "ingest_p99_ms": percentile(ingested, 99) * 1e3,
        "p50_ms": percentile(waited, 50) * 1e3,
        "p99_ms": percentile(waited, 99) * 1e3,
        "max_ms": (max(waited) if waited else float("nan")) * 1e3,
    }


async def wait_for_intake(
    js: Any, settings: Settings, subject: str, workers: Sequence[Worker]
) -> None:
    for _ in range(600):
        for worker in workers:
            worker.check()
        with contextlib.suppress(Exception):
            info = await js.stream_info(settings.nats.stream("INTAKE"))
            if subject in (info.config.subjects or []):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the ingest worker never captured {subject}")


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def cleanup(settings: Settings) -> None:
    async with open_streams(settings, "bench-cleanup") as streams:
        js = streams.client.jetstream()
        for info in await js.streams_info():
            name = info.config.name or ""
            if name.startswith(settings.nats.stream_prefix):
                await js.delete_stream(name)
    redis = Redis.from_url(REDIS)
    keys = [k async for k in redis.scan_iter(f"{settings.features.redis_key_prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="of paced publishing")
    parser.add_argument("--rate", type=float, default=None, help="records/s of the paced part")
    parser.add_argument("--train-rows", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database() as url:
        settings = settings_for(Path(tmp), url)
        try:
            register_cards(settings)
            train(settings, args.train_rows)
            records = raw_records(args.train_rows)
            result = uvloop.run(
                measure(settings, records, args.records, args.rate, args.seconds, Path(tmp))
            )
        finally:
            uvloop.run(cleanup(settings))
    print(f"{'stores':<32}{'PostgreSQL + NATS + Redis':>28}")
    for key, value in result.items():
        print(f"{key:<32}{value:>28,.2f}")
    print(json.dumps({"benchmark": "pipeline", **result}))


if __name__ == "__main__":
    main()
