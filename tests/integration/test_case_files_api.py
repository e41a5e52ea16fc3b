"""Case files over REST and GraphQL on SQLite and PostgreSQL: upload, list, download, remove."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from tests.builders import detections
from tests.graphql_client import ANALYST, TENANT, data
from vigil.application.case_files import AttachmentPolicy
from vigil.application.casework import Casework
from vigil.domain.case import Priority
from vigil.infrastructure.attachment_store import DiskAttachmentStore
from vigil.web.case_files import CaseFileStorage

Project = Callable[[], Awaitable[None]]

LIMIT = 4096
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

FILES = """
query Files($id: ID!) {
  case(id: $id) {
    files { filename contentType size attachedBy downloadPath removedBy removalReason }
  }
}"""

REMOVE = """
mutation Remove($id: ID!, $sha: String!) {
  removeCaseFile(input: {caseId: $id, sha256: $sha, reason: "statement of another customer"}) {
    __typename
    ... on InvalidInputError { field message }
  }
}"""


@pytest.fixture
def case_file_storage(tmp_path: Path) -> CaseFileStorage:
    return CaseFileStorage(DiskAttachmentStore(tmp_path / "files"), AttachmentPolicy(LIMIT))


@pytest.fixture
def open_case(desk: Casework) -> str:
    found = detections(1, tenant_id=TENANT)
    desk.raise_alerts(found)
    case = desk.open_case(TENANT, "ann", "Chargeback", Priority.HIGH, [found[0].alert_id])
    return str(case.id)


async def upload(
    client: AsyncTestClient[Any], case_id: str, name: str, content_type: str, content: bytes
) -> Any:
    files = {"file": (name, content, content_type)}
    return await client.post(f"/api/v1/cases/{case_id}/files", files=files)


async def test_an_analyst_uploads_evidence_lists_it_downloads_it_and_removes_it(
    client: AsyncTestClient[Any], open_case: str, project: Project
) -> None:
    response = await upload(client, open_case, "statement.pdf", "application/pdf", PDF)
    assert response.status_code == 201, response.text
    sha256 = response.json()["sha256"]

    await project()
    (listed,) = (await data(client, FILES, id=open_case))["case"]["files"]
    assert listed == {
        "filename": "statement.pdf",
        "contentType": "application/pdf",
        "size": len(PDF),
        "attachedBy": ANALYST,
        "downloadPath": f"/api/v1/cases/{open_case}/files/{sha256}",
        "removedBy": None,
        "removalReason": None,
    }
    download = await client.get(listed["downloadPath"])
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''statement.pdf"
    assert download.headers["x-content-type-options"] == "nosniff"

    removed = await data(client, REMOVE, id=open_case, sha=sha256)
    assert removed["removeCaseFile"]["__typename"] == "CaseChanged"
    assert (await client.get(listed["downloadPath"])).status_code == 404
    await project()
    (listed,) = (await data(client, FILES, id=open_case))["case"]["files"]
    assert (listed["downloadPath"], listed["removedBy"]) == (None, ANALYST)


@pytest.mark.parametrize(
    ("name", "content_type", "content", "field", "detail"),
    [
        ("tool.exe", "application/x-msdownload", b"MZ\x90\x00", "content_type", "is not one of"),
        ("scan.png", "image/png", PDF, "file", "its content is not image/png"),
        ("big.txt", "text/plain", b"x" * (LIMIT + 1), "file", f"the limit is {LIMIT}"),
    ],
)
async def test_a_refused_upload_is_a_problem_naming_the_field_and_nothing_is_recorded(
    client: AsyncTestClient[Any],
    open_case: str,
    desk: Casework,
    name: str,
    content_type: str,
    content: bytes,
    field: str,
    detail: str,
) -> None:
    response = await upload(client, open_case, name, content_type, content)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field
    assert detail in problem["detail"]
    assert desk.case_timeline(TENANT, UUID(open_case))[-1].event == "Opened"


async def test_an_upload_far_over_the_limit_is_cut_off_before_it_is_read(
    client: AsyncTestClient[Any], open_case: str
) -> None:
    response = await upload(client, open_case, "huge.txt", "text/plain", b"x" * (LIMIT + 200_000))
    assert response.status_code == 413


async def test_files_of_a_missing_or_foreign_case_are_not_found(
    client: AsyncTestClient[Any], desk: Casework
) -> None:
    found = detections(1, tenant_id="globex")
    desk.raise_alerts(found)
    theirs = desk.open_case("globex", "eve", "Theirs", Priority.LOW, [found[0].alert_id])
    response = await upload(client, str(theirs.id), "a.txt", "text/plain", b"hello")
    assert response.status_code == 404
    assert response.json()["title"] == "Case not found"
    missing = await client.get(f"/api/v1/cases/{theirs.id}/files/{'ab' * 32}")
    assert missing.status_code == 404
