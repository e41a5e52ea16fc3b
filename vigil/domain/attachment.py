"""Files attached to a case as evidence: named by their sha256, described by what was uploaded."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.domain.errors import InvalidCommand

MAX_FILENAME = 200

_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Attachment:
    """What a case records of a file; the bytes live in the attachment store under `sha256`."""

    sha256: str
    filename: str
    content_type: str
    size: int

    def __post_init__(self) -> None:
        if not _DIGEST.fullmatch(self.sha256):
            raise InvalidCommand("sha256", "must be 64 lower-case hex digits")
        if self.size <= 0:
            raise InvalidCommand("file", "is empty")

    @classmethod
    def described(cls, sha256: str, filename: str, content_type: str, size: int) -> Attachment:
        return cls(sha256, attachment_filename(filename), content_type, size)


def attachment_filename(value: str) -> str:
    """The uploaded name without any folder part or control characters, as it is shown and
    offered for download; a name must stay a name, never a path."""
    name = value.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name in {".", ".."}:
        raise InvalidCommand("filename", "must name a file")
    if len(name) > MAX_FILENAME:
        raise InvalidCommand("filename", f"must be at most {MAX_FILENAME} characters")
    return name
