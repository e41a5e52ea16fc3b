"""What analysts said and attached: comments on alerts and cases, and the files of each case.

Rows are keyed by ids derived from the event that made them, so a replay writes the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid5

from vigil.application.projection import RowChange, RowInsert, RowUpdate
from vigil.domain.alert import Alert
from vigil.domain.case import Case

COMMENTS = "comments"
CASE_FILES = "case_files"

_EVIDENCE_NAMESPACE = UUID("5e2d8c1b-7a4f-5b3e-9c6d-2f1a0b9e8d7c")


def comment_id(subject_id: UUID, version: int) -> UUID:
    return uuid5(_EVIDENCE_NAMESPACE, f"comment\x1f{subject_id}\x1f{version}")


def case_file_id(case_id: UUID, sha256: str) -> UUID:
    """One row per file of a case: attaching it again after removal revives the same row."""
    return uuid5(_EVIDENCE_NAMESPACE, f"file\x1f{case_id}\x1f{sha256}")


class CommentProjection:
    """One `comments` row per comment on an alert or a case, oldest first per subject."""

    name = "comments"
    tables = (COMMENTS,)

    def changes(self, event: object) -> Sequence[RowChange]:
        if isinstance(event, Alert.Commented):
            kind = "alert"
        elif isinstance(event, Case.Commented):
            kind = "case"
        else:
            return []
        values = {
            "tenant_id": event.tenant_id,
            "subject_kind": kind,
            "subject_id": event.originator_id,
            "author": event.actor,
            "text": event.text,
            "at": event.timestamp,
        }
        key = comment_id(event.originator_id, event.originator_version)
        return [RowInsert(COMMENTS, key, event.originator_version, values)]


class CaseFileProjection:
    """One `case_files` row per file a case has had; a removed one keeps who removed it, why."""

    name = "case_files"
    tables = (CASE_FILES,)

    def changes(self, event: object) -> Sequence[RowChange]:
        version = getattr(event, "originator_version", 0)
        match event:
            case Case.FileAttached():
                values = {
                    "tenant_id": event.tenant_id,
                    "case_id": event.originator_id,
                    "sha256": event.sha256,
                    "filename": event.filename,
                    "content_type": event.content_type,
                    "size": event.size,
                    "attached_by": event.actor,
                    "attached_at": event.timestamp,
                    "removed_by": None,
                    "removed_at": None,
                    "removal_reason": None,
                }
                key = case_file_id(event.originator_id, event.sha256)
                return [RowInsert(CASE_FILES, key, version, values)]
            case Case.FileRemoved():
                removed = {
                    "removed_by": event.actor,
                    "removed_at": event.timestamp,
                    "removal_reason": event.reason,
                }
                key = case_file_id(event.originator_id, event.sha256)
                return [RowUpdate(CASE_FILES, key, version, version, removed)]
        return []
