"""Case files over REST: upload evidence to a case (multipart) and download it again.

Files travel as multipart form data on a route of their own: it refuses a body over the size
limit before reading it, and GraphQL stays JSON-only, so a cross-site form cannot post to it
without a CORS preflight (why strawberry leaves multipart uploads off). Listing and removing files
are GraphQL's (`case { files }`, `removeCaseFile`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import anyio.to_thread
from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.status_codes import (
    HTTP_201_CREATED,
    HTTP_404_NOT_FOUND,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from vigil.application.case_files import (
    AttachmentMissing,
    AttachmentPolicy,
    AttachmentStore,
    attach_file,
    read_file,
)
from vigil.application.casework import Casework
from vigil.application.permissions import Permission, Principal
from vigil.domain.errors import CaseNotFound, DomainError, InvalidCommand
from vigil.web.auth import requires

log = logging.getLogger("vigil.web.case_files")

MULTIPART_OVERHEAD = 64 * 1024
"""Room in a request for the multipart headers around a file of the largest allowed size."""


@dataclass(frozen=True)
class CaseFileStorage:
    """Where case files are kept, and what a file must be to be kept."""

    store: AttachmentStore
    policy: AttachmentPolicy


def problem(status: int, title: str, detail: str, field: str | None = None) -> Response[Any]:
    """An RFC 9457 problem document as a response."""
    body = problem_document(status, title, detail, field)
    return Response(body, status_code=status, media_type="application/problem+json")


def problem_document(status: int, title: str, detail: str, field: str | None) -> dict[str, Any]:
    """An RFC 9457 problem document; `field` names the part of the request at fault."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if field is not None:
        body["field"] = field
    return body


def case_file_router(desk: Casework, files: CaseFileStorage) -> Router:
    """The upload and download routes, in the caller's tenant and recorded as the caller."""

    @post(
        "/{case_id:uuid}/files",
        request_max_body_size=files.policy.max_bytes + MULTIPART_OVERHEAD,
        status_code=HTTP_201_CREATED,
        guards=[requires(Permission.CASES_ACT)],
    )
    async def upload(
        request: Request[Principal, Any, Any],
        case_id: FromPath[UUID],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[Any]:
        caller = request.user
        file = data.get("file")
        if not isinstance(file, UploadFile):
            return problem(HTTP_422_UNPROCESSABLE_ENTITY, "Invalid upload", "no file part", "file")
        content = await file.read()
        upload = (file.filename, file.content_type, content)
        try:
            attached = await anyio.to_thread.run_sync(
                attach_file,
                desk,
                files.store,
                files.policy,
                caller.tenant_id,
                case_id,
                caller.username,
                upload,
            )
        except DomainError as error:
            return _refusal(error)
        body = {
            "sha256": attached.sha256,
            "filename": attached.filename,
            "contentType": attached.content_type,
            "size": attached.size,
        }
        return Response(body, status_code=HTTP_201_CREATED)

    @get("/{case_id:uuid}/files/{sha256:str}", guards=[requires(Permission.CASES_READ)])
    async def download(
        request: Request[Principal, Any, Any], case_id: FromPath[UUID], sha256: FromPath[str]
    ) -> Response[Any]:
        tenant = request.user.tenant_id
        try:
            attachment, content = await anyio.to_thread.run_sync(
                read_file, desk, files.store, tenant, case_id, sha256
            )
        except DomainError as error:
            return _refusal(error)
        # Served as a download and never sniffed or run: evidence may be hostile.
        headers = {
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        }
        return Response(content, media_type=attachment.content_type, headers=headers)

    return Router("/api/v1/cases", route_handlers=[upload, download])


def _refusal(error: DomainError) -> Response[Any]:
    match error:
        case CaseNotFound():
            return problem(HTTP_404_NOT_FOUND, "Case not found", str(error))
        case InvalidCommand(field="sha256"):
            return problem(HTTP_404_NOT_FOUND, "File not found", error.reason, "sha256")
        case InvalidCommand():
            return problem(
                HTTP_422_UNPROCESSABLE_ENTITY, "Invalid upload", error.reason, error.field
            )
        case AttachmentMissing():
            # The case lists it but the store lost or altered it: ours to fix, not the caller's.
            log.error("case file unavailable: %s", error)
            return problem(HTTP_500_INTERNAL_SERVER_ERROR, "File unavailable", str(error))
    raise error
