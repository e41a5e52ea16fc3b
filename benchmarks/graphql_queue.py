"""The alert-queue query over GraphQL: latency and SQL statements per request.

Usage: python benchmarks/graphql_queue.py [--alerts N] [--requests N] [--sqlite]
Raises N alerts (100,000 by default) through the real event store on a temporary PostgreSQL
database (or SQLite), puts the newest 2,000 in cases of five and labels every third of their
records, projects it all, then times the queue's first page of 50 alerts with each one's case and
latest label, over HTTP against the app in process, alternately all alerts and the open ones.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from vigil.application.casework import Casework
from vigil.application.identity import issue_api_key, register_user
from vigil.bootstrap import (
    build_alert_desk,
    build_identity,
    build_password_hasher,
    build_projection_runner,
    build_read_engine,
    build_read_models,
)
from vigil.domain.alert import Detection, Severity
from vigil.domain.case import Priority
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.settings import Settings, StorageSettings
from vigil.web.app import WebDeps, create_app, settle_heap
from vigil.web.auth import API_KEY_HEADER

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
QUERY = """
query Queue($status: AlertStatus) {
  alerts(first: 50, status: $status) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id recordId score severity status entityId assignee raisedAt
        case { id title status priority alertCount dueAt }
        latestLabel { verdict labelSource labelledAt }
      }
    }
  }
}"""
WORKED = 2_000
"""How many of the newest alerts (the first page shows some of them) are in cases of five; a
third of their records are labelled."""


def detections(start: int, count: int) -> list[Detection]:
    return [
        Detection(
            tenant_id="default",
            source="cards",
            record_id=f"tx-{n}",
            model_line="cards-iforest",
            model_version="ab" * 32,
            score=0.3 + (n % 100) / 1000,
            threshold=0.25,
            severity=Severity.MEDIUM,
            entity_id=f"customer-{n % 5000}",
            record={"TX_AMOUNT": n % 500},
            occurred_at=None,
        )
        for n in range(start, start + count)
    ]


def work_the_newest(desk: Casework, alerts: int) -> None:
    newest = detections(max(0, alerts - WORKED), min(WORKED, alerts))
    for n in range(0, len(newest), 5):
        ids = [d.alert_id for d in newest[n : n + 5]]
        desk.open_case("default", "bench", f"Case {n // 5}", Priority.MEDIUM, ids)
    for d in newest[::3]:
        subject = ("cards", SubjectKind.RECORD, d.record_id)
        desk.label("default", "bench", subject, Verdict.FRAUD, LabelSource.CHARGEBACK)


def analyst_key(settings: Settings, desk: Casework) -> str:
    hasher = build_password_hasher(settings)
    analyst = register_user(
        desk, hasher, "default", "bench", "bench", "a long bench password", ["analyst"]
    )
    expiry = desk.clock() + timedelta(days=1)
    return issue_api_key(desk, "default", analyst.id, "bench", "bench", expiry).plaintext


async def measure(settings: Settings, alerts: int, requests: int) -> dict[str, float]:
    desk = build_alert_desk(settings)
    engine = build_read_engine(settings)
    await migrate.upgrade(engine)
    started = time.perf_counter()
    for start in range(0, alerts, 1000):
        desk.raise_alerts(detections(start, min(1000, alerts - start)))
    work_the_newest(desk, alerts)
    await build_projection_runner(settings, desk, engine, batch_size=2000).catch_up()
    loading = time.perf_counter() - started

    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    await engine.dispose()
    # The test client serves the app on a loop of its own, so the app gets its own engine.
    served = build_read_engine(settings)
    event.listen(served.sync_engine, "before_cursor_execute", count)
    key = analyst_key(settings, desk)
    identity = build_identity(settings)
    deps = WebDeps(
        alert_desk=desk,
        read_models=build_read_models(settings, served),
        identity=identity.identity,
        csrf_secret=uuid.uuid4().hex,
        on_startup=[settle_heap],  # as bootstrap.build_web_app does for `vigil serve`
        on_shutdown=[served.dispose, identity.close],
    )
    timings: list[float] = []
    per_request: set[int] = set()
    async with AsyncTestClient(create_app(deps)) as client:
        client.headers[API_KEY_HEADER] = key  # each request proves its caller, as in production
        for n in range(requests + 20):
            statements = 0
            began = time.perf_counter()
            answer = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"status": "OPEN" if n % 2 else None}},
            )
            elapsed = time.perf_counter() - began
            if answer.status_code != 200 or "errors" in answer.json():
                raise RuntimeError(answer.text)
            if n >= 20:  # warm-up
                timings.append(elapsed * 1000)
                per_request.add(statements)
    timings.sort()
    return {
        "alerts": float(alerts),
        "load_seconds": loading,
        "p50_ms": statistics.median(timings),
        "p99_ms": timings[int(len(timings) * 0.99) - 1],
        "sql_statements_per_request": float(max(per_request)),
        "sql_statements_per_request_min": float(min(per_request)),
    }


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    database = None if args.sqlite else f"vigil_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        if database:
            with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"'.encode())
        try:
            url = f"{POSTGRES}/{database}" if database else None
            settings = Settings(storage=StorageSettings(data_dir=Path(tmp), database_url=url))
            result = asyncio.run(measure(settings, args.alerts, args.requests))
        finally:
            if database:
                with psycopg.connect(f"{POSTGRES}/test", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)'.encode())
    store = "sqlite" if args.sqlite else "postgresql"
    print(f"{'store':<30}{store:>12}")
    for key, value in result.items():
        print(f"{key:<30}{value:>12,.2f}")
    print(json.dumps({"benchmark": "graphql_queue", "store": store, **result}))


if __name__ == "__main__":
    main()
