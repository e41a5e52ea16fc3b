"""Records over HTTP: REST ingest (one record or a batch), file uploads, and signed webhooks.

Every record goes through intake like any other; a refused one is in the dead letters with its
reason, and the answer says which were refused and why. REST and webhook records without an id
field are identified by their content, so a client that retries a request stores each once.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from litestar import Request, Response, Router, post
from litestar.params import FromPath
from litestar.status_codes import (
    HTTP_202_ACCEPTED,
    HTTP_404_NOT_FOUND,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from vigil.application.data_sources import SourceNotFound
from vigil.application.ingestion import FileIngestion, RecordFileReader, ingest_rows
from vigil.application.intake import Arrival, Intake, IntakeReport
from vigil.application.permissions import Permission, Principal
from vigil.application.webhooks import WebhookRefused, WebhookVerifier
from vigil.web.auth import requires
from vigil.web.case_files import problem

log = logging.getLogger("vigil.web.ingest")

TENANT_HEADER = "Vigil-Tenant"
UPLOAD_CHUNK = 1 << 20


@dataclass
class IngestEndpoints:
    """What the ingest routes need; `intake` is set once the app has reached NATS."""

    webhooks: WebhookVerifier
    read_file: RecordFileReader
    max_request_bytes: int
    intake: Intake | None = None


def ingest_router(endpoints: IngestEndpoints) -> Router:
    limit = endpoints.max_request_bytes

    @post(
        "/ingest/{source:str}",
        request_max_body_size=limit,
        guards=[requires(Permission.INGEST_WRITE)],
    )
    async def ingest(request: Request[Principal, Any, Any], source: FromPath[str]) -> Response[Any]:
        intake = endpoints.intake
        if intake is None:
            return _not_connected()
        body = await request.body()
        arrivals = _arrivals("rest", body, intake.max_record_bytes)
        return await _admit(intake, request.user.tenant_id, source, arrivals)

    @post(
        "/ingest/{source:str}/file",
        request_max_body_size=None,
        guards=[requires(Permission.INGEST_WRITE)],
    )
    async def upload(request: Request[Principal, Any, Any], source: FromPath[str]) -> Response[Any]:
        """A CSV, gzip CSV or Parquet file as the raw body, spooled to disk as it arrives and
        read back a chunk at a time, so its size never has to fit in memory."""
        intake = endpoints.intake
        if intake is None:
            return _not_connected()
        tenant_id = request.user.tenant_id
        try:
            compiled = await anyio.to_thread.run_sync(intake.contracts.contract, tenant_id, source)
        except SourceNotFound as error:
            return problem(HTTP_404_NOT_FOUND, "Unknown source", str(error), "source")
        name = request.query_params.get("filename") or f"upload-{uuid.uuid4().hex[:12]}"
        with tempfile.TemporaryDirectory(prefix="vigil-upload-") as folder:
            path = Path(folder) / Path(name).name
            with path.open("wb") as spool:
                async for chunk in request.stream():
                    spool.write(chunk)
            file = FileIngestion(tenant_id, source, path.name)
            try:
                rows, _ = endpoints.read_file(path, compiled.contract)
                report = await ingest_rows(rows, file, intake)
            except ValueError as error:
                # The reader's MalformedRecordFile (a ValueError): no header, or not the format
                # it claims. Rows admitted before a file turns unreadable stay admitted.
                detail = str(error).replace(f"{folder}/", "")
                return problem(HTTP_422_UNPROCESSABLE_ENTITY, "Unreadable file", detail, "file")
        body = {
            "read": report.read,
            "accepted": report.accepted,
            "deadLettered": report.dead_lettered,
        }
        return Response(body, status_code=HTTP_202_ACCEPTED)

    @post("/webhooks/{source:str}", request_max_body_size=limit)
    async def webhook(request: Request[Any, Any, Any], source: FromPath[str]) -> Response[Any]:
        # Checked before the signature is, which is accepted only once: a delivery answered 503
        # must be accepted when the sender retries it unchanged.
        intake = endpoints.intake
        if intake is None:
            return _not_connected()
        tenant_id = request.headers.get(TENANT_HEADER) or endpoints.webhooks.default_tenant
        body = await request.body()
        headers = request.headers
        try:
            await endpoints.webhooks.verify(
                tenant_id,
                source,
                headers.get("Vigil-Timestamp"),
                headers.get("Vigil-Signature"),
                body,
            )
        except WebhookRefused as refused:
            return problem(refused.status, "Delivery refused", refused.reason, refused.field)
        arrivals = _arrivals("webhook", body, intake.max_record_bytes)
        return await _admit(intake, tenant_id, source, arrivals)

    return Router("/api/v1", route_handlers=[ingest, upload, webhook])


def _arrivals(kind: str, body: bytes, max_record_bytes: int) -> list[Arrival]:
    """A JSON array is a batch; anything else is one record for intake to judge. Records are
    UTF-8 whether they come one by one or in a batch (json.loads would take UTF-16 bytes too)."""
    request_id = uuid.uuid4().hex[:12]
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        decoded = None
    if not isinstance(decoded, list):
        return [Arrival(body, f"{kind}:{request_id}")]
    # A batch no longer than the limit holds no record over it; a longer one has each object
    # measured, and one over the limit goes to intake as bytes, to be refused for its size.
    measure = len(body) > max_record_bytes
    return [
        Arrival(_item(item, max_record_bytes if measure else None), f"{kind}:{request_id}#{n}")
        for n, item in enumerate(decoded)
    ]


def _item(item: object, max_record_bytes: int | None) -> bytes | dict[str, Any]:
    if not isinstance(item, dict):
        return json.dumps(item).encode()
    if max_record_bytes is not None:
        encoded = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
        if len(encoded) > max_record_bytes:
            return encoded
    return item


async def _admit(
    intake: Intake, tenant_id: str, source: str, arrivals: Sequence[Arrival]
) -> Response[Any]:
    try:
        report = await intake.admit(tenant_id, source, arrivals)
    except SourceNotFound as error:
        return problem(HTTP_404_NOT_FOUND, "Unknown source", str(error), "source")
    if report.accepted == 0 and report.violations:
        _, violation = report.violations[0]
        detail = f"{violation.reason}; kept in the dead letters"
        refused = problem(HTTP_422_UNPROCESSABLE_ENTITY, "Record refused", detail, violation.field)
        refused.content["errors"] = _errors(report)
        return refused
    return Response(
        {
            "accepted": report.accepted,
            "deadLettered": report.dead_lettered,
            "errors": _errors(report),
        },
        status_code=HTTP_202_ACCEPTED,
    )


def _errors(report: IntakeReport) -> list[dict[str, Any]]:
    return [
        {"index": index, "field": violation.field, "reason": violation.reason}
        for index, violation in report.violations
    ]


def _not_connected() -> Response[Any]:
    detail = "ingestion is not connected to NATS yet; try again shortly"
    return problem(HTTP_503_SERVICE_UNAVAILABLE, "Ingestion unavailable", detail)
