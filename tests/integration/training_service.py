"""Training over GraphQL as the tests need it: the payments source registered, files of the
training folder, the mutation and the job query, and a job followed until it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from litestar.testing import AsyncTestClient

from tests.graphql_client import TENANT, data
from vigil.application.data_sources import apply_source
from vigil.bootstrap import build_alert_desk, build_projection_runner, build_read_engine
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.read_model import migrate
from vigil.infrastructure.settings import Settings

PAYMENTS = {
    "name": "payments",
    "source_type": "csv",
    "schema": {
        "type": "object",
        "properties": {
            "amount": {"type": "number"},
            "hour": {"type": "integer"},
            "is_fraud": {"type": "integer"},
        },
    },
}
"""A source whose records are the test files' rows."""

JOB_FIELDS = """
    id status stage stages { stage at } requestedBy requestedAt startedAt finishedAt
    source data algorithm label modelLine alertRate holdout nEstimators note
    error { field message } version newVersion
"""

TRAIN = f"""
mutation Train($input: TrainModelInput!) {{
  trainModel(input: $input) {{
    __typename
    ... on TrainingJob {{ {JOB_FIELDS} }}
    ... on InvalidInputError {{ field message }}
    ... on NotFoundError {{ id message }}
  }}
}}"""

JOB = f"query Job($id: ID!) {{ trainingJob(id: $id) {{ {JOB_FIELDS} }} }}"

ENDED = {"SUCCEEDED", "FAILED"}
PATIENCE_SECONDS = 240.0
"""Ample for a small training on a busy machine: a fresh training process alone takes a few
seconds to import its libraries."""


def payments_registered(settings: Settings, tenant_id: str = TENANT) -> None:
    """The payments source, registered for the tenant as `vigil sources apply` would."""
    desk = build_alert_desk(settings)
    try:
        apply_source(desk, FastJsonSchemaCompiler(), tenant_id, "dana", PAYMENTS)
    finally:
        desk.close()


def payments_file(settings: Settings, name: str, frauds: int = 12, label: str = "") -> str:
    """A file of the training folder: 600 genuine payments and `frauds` large night-time ones,
    spread through the file; `label` replaces every fraud's label when given."""
    folder = settings.storage.training
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(20 + (n * 7) % 60, n % 24, "0") for n in range(600)]
    rows += [(500 + n, 3, label or "1") for n in range(frauds)]
    rows.sort(key=lambda row: (row[0] * 31 + row[1]) % 97)
    text = "amount,hour,is_fraud\n" + "".join(f"{a},{h},{f}\n" for a, h, f in rows)
    (folder / name).write_text(text)
    return name


def unlabelled_file(settings: Settings, name: str = "plain.csv") -> Path:
    folder = settings.storage.training
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("amount,hour\n" + "".join(f"{10 + n % 97},{n % 24}\n" for n in range(300)))
    return path


async def job_when(client: AsyncTestClient[Any], job_id: str, statuses: set[str]) -> dict[str, Any]:
    """The job once it is in one of `statuses`, asked every tenth of a second; fails the test
    after `PATIENCE_SECONDS`."""
    with anyio.fail_after(PATIENCE_SECONDS):
        while True:
            job: dict[str, Any] = (await data(client, JOB, id=job_id))["trainingJob"]
            if job["status"] in statuses:
                return job
            await anyio.sleep(0.1)


async def ended_job(client: AsyncTestClient[Any], job_id: str) -> dict[str, Any]:
    return await job_when(client, job_id, ENDED)


async def label_book_caught_up(settings: Settings) -> None:
    """The labels read model up to date with the event store: what stored labels read."""
    desk, engine = build_alert_desk(settings), build_read_engine(settings)
    try:
        await migrate.upgrade(engine)
        await build_projection_runner(settings, desk, engine).catch_up()
    finally:
        await engine.dispose()
        desk.close()
