"""Case attachments on disk, one file per sha256, fanned out by the digest's first two bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from vigil.application.case_files import AttachmentMissing
from vigil.infrastructure.atomic_files import write_atomically


class DiskAttachmentStore:
    """Implements `AttachmentStore` in a folder; writes are atomic renames, so a reader never
    sees half a file, and a digest check on read catches a file altered on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, content)
        return sha256

    def read(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise AttachmentMissing(f"file {sha256} is not in the attachment store") from None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise AttachmentMissing(f"file {sha256} was altered in the attachment store")
        return content

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256
