"""The Redis window store on FDH card transactions: records/s and Redis CPU per record.

Usage: python benchmarks/window_store.py [--records N] [--batch N] [--redis URL]
Streams the first N transactions (300,000 by default) of the Fraud Detection Handbook's data set
through RedisWindowStore in batches (1,000), with the card pipeline's windows
(examples/pipelines/card_features.yaml: the customer's count and mean amount over 1, 7 and 30
days and time since last, the terminal's count over 1, 7 and 30 days). The customer is a keyed
token, as intake would make it. Redis's CPU is the script's share of `INFO commandstats`
(EVALSHA, plus EVAL and SCRIPT should the script need loading), so run it on a Redis nobody
else is using. Figures are for the whole run and for the last 100,000 records, when the
histories hold 30 days and more: the steady state. The keys are deleted at the end.
Prints a short table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from vigil.application.features import WindowInput
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.infrastructure.window_store import RedisWindowStore

ROOT = Path(__file__).resolve().parents[1]
FDH = ROOT.parent / "shared" / "data" / "fdh_simulated_transactions.csv.gz"
PIPELINE = ROOT / "examples" / "pipelines" / "card_features.yaml"
SCRIPT_COMMANDS = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_script")
TAIL = 100_000
"""The last records, measured on their own: by then every history is full."""


def card_records(count: int) -> list[WindowInput]:
    tokens = Pseudonymiser(b"window-store-benchmark-key")
    with gzip.open(FDH, "rt", newline="") as text:
        rows = islice(csv.DictReader(text), count)
        return [
            WindowInput(
                "default",
                "cards",
                row["TRANSACTION_ID"],
                datetime.fromisoformat(row["TX_DATETIME"]).replace(tzinfo=UTC).timestamp(),
                {
                    "CUSTOMER_ID": tokens.token("default", int(row["CUSTOMER_ID"])),
                    "TERMINAL_ID": int(row["TERMINAL_ID"]),
                    "TX_AMOUNT": float(row["TX_AMOUNT"]),
                },
            )
            for row in rows
        ]


async def script_usec(redis: Redis) -> float:
    """Redis's CPU time in the store's script so far, in microseconds."""
    stats = await redis.info("commandstats")
    return float(sum(stats.get(name, {}).get("usec", 0) for name in SCRIPT_COMMANDS))


async def measure(url: str, records: list[WindowInput], batch: int) -> dict[str, Any]:
    pipeline = FeaturePipeline.from_document(yaml.safe_load(PIPELINE.read_text()))
    redis = Redis.from_url(url)
    prefix = f"vigil-bench-{uuid.uuid4().hex[:8]}"
    store = RedisWindowStore(redis, prefix)
    tail_from = max(0, len(records) - TAIL)
    try:
        memory = (await redis.info("memory"))["used_memory"]
        marks = [(time.perf_counter(), time.process_time(), await script_usec(redis))]
        for start in range(0, len(records), batch):
            if start == tail_from and start > 0:
                marks.append((time.perf_counter(), time.process_time(), await script_usec(redis)))
            await store.observe(pipeline, records[start : start + batch])
        marks.append((time.perf_counter(), time.process_time(), await script_usec(redis)))
        memory = (await redis.info("memory"))["used_memory"] - memory
        keys = [key async for key in redis.scan_iter(f"{prefix}:*", count=10_000)]
    finally:
        async for key in redis.scan_iter(f"{prefix}:*", count=10_000):
            await redis.unlink(key)
        await redis.aclose()
    figures: dict[str, Any] = {
        "benchmark": "window_store",
        "records": len(records),
        "batch_size": batch,
        "keys": len(keys),
        "redis_memory_bytes_per_key": round(memory / max(1, len(keys))),
    }
    spans = {"": (marks[0], marks[-1]), "last_100k_": (marks[-2], marks[-1])}
    for label, ((wall, cpu, usec), (wall_end, cpu_end, usec_end)) in spans.items():
        count = len(records) if not label else len(records) - tail_from
        figures[f"{label}records_per_s"] = round(count / (wall_end - wall))
        figures[f"{label}redis_us_per_record"] = round((usec_end - usec) / count, 2)
        figures[f"{label}client_cpu_us_per_record"] = round(1e6 * (cpu_end - cpu) / count, 2)
    return figures


def print_table(figures: dict[str, Any]) -> None:
    print(f"{'measure':<40}{'value':>14}")
    for key, value in figures.items():
        if key != "benchmark":
            print(f"{key:<40}{value:>14,}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args()
    records = card_records(arguments.records)
    figures = asyncio.run(measure(arguments.redis, records, arguments.batch))
    print_table(figures)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
