"""Case files: evidence an analyst attaches to a case, checked, stored by sha256, then recorded.

The bytes go to the attachment store first and the case records the file after: a crash between
the two leaves an unreferenced file in the store, never a case pointing at nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from vigil.application.casework import Casework
from vigil.domain.attachment import Attachment
from vigil.domain.case import Case
from vigil.domain.errors import DomainError, InvalidCommand


class AttachmentStore(Protocol):
    """Content-addressed file storage: on disk, or an object store behind the same port."""

    def put(self, content: bytes) -> str:
        """Stores the bytes and returns their sha256; storing the same bytes again is a no-op."""
        ...

    def read(self, sha256: str) -> bytes:
        """The stored bytes, checked against their digest; raises AttachmentMissing."""
        ...


class AttachmentMissing(DomainError):
    """The case names a file the store does not have (or has altered)."""


def _is_text(content: bytes) -> bool:
    try:
        return "\x00" not in content.decode("utf-8")
    except UnicodeDecodeError:
        return False


def _starts(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda content: content.startswith(magic)


SNIFFERS: dict[str, Callable[[bytes], bool]] = {
    "application/pdf": _starts(b"%PDF-"),
    "image/png": _starts(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": _starts(b"\xff\xd8\xff"),
    "image/gif": _starts(b"GIF87a", b"GIF89a"),
    "text/plain": _is_text,
    "text/csv": _is_text,
    "application/json": _is_text,
    "message/rfc822": _is_text,
}
"""The content types a case accepts, each with the check that the bytes really are one: a
declared type alone would let an executable in as a 'PDF'."""


@dataclass(frozen=True)
class AttachmentPolicy:
    max_bytes: int
    sniffers: dict[str, Callable[[bytes], bool]] = field(default_factory=lambda: dict(SNIFFERS))

    def check(self, filename: str, content_type: str, content: bytes) -> Attachment:
        """The attachment these bytes make, or an InvalidCommand naming what is wrong."""
        declared = content_type.split(";", 1)[0].strip().lower()
        if declared not in self.sniffers:
            accepted = ", ".join(sorted(self.sniffers))
            raise InvalidCommand("content_type", f"{declared or 'none'} is not one of {accepted}")
        if len(content) > self.max_bytes:
            raise InvalidCommand("file", f"is {len(content)} bytes; the limit is {self.max_bytes}")
        if content and not self.sniffers[declared](content):
            raise InvalidCommand("file", f"its content is not {declared}, as declared")
        sha256 = hashlib.sha256(content).hexdigest()
        return Attachment.described(sha256, filename, declared, len(content))


def attach_file(
    desk: Casework,
    store: AttachmentStore,
    policy: AttachmentPolicy,
    tenant_id: str,
    case_id: UUID,
    actor: str,
    upload: tuple[str, str, bytes],
) -> Attachment:
    """Checks the upload (filename, content type, bytes), stores it, and attaches it to the case."""
    filename, content_type, content = upload
    attachment = policy.check(filename, content_type, content)
    case = desk.get_case(tenant_id, case_id)
    case.attach_file(actor, desk.clock(), attachment)
    store.put(content)
    desk.save(case)
    return attachment


def remove_file(
    desk: Casework, tenant_id: str, case_id: UUID, actor: str, sha256: str, reason: str
) -> Case:
    case = desk.get_case(tenant_id, case_id)
    case.remove_file(actor, desk.clock(), sha256, reason)
    desk.save(case)
    return case


def read_file(
    desk: Casework, store: AttachmentStore, tenant_id: str, case_id: UUID, sha256: str
) -> tuple[Attachment, bytes]:
    """A file the case lists now, with its bytes; a removed or unknown one is not found."""
    case = desk.get_case(tenant_id, case_id)
    attachment = case.attachments.get(sha256)
    if attachment is None:
        raise InvalidCommand("sha256", f"case {case_id} has no file {sha256}")
    return attachment, store.read(sha256)
