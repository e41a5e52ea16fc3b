"""The record envelope: one record from a source as it travels on `vigil.records.<source>`.

A message on the records stream carries one envelope or a batch of them, one JSON object a
line (JSON text never holds a raw line break): a message per record cost the stream, the
publisher and the consumer more than validating and scoring the record did. A message of one
envelope is a batch of one, so a single envelope published by anyone is read the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigil.application import fast_json
from vigil.domain.errors import InvalidCommand


class MalformedRecord(InvalidCommand):
    """A message on the records stream that is not a record envelope."""


@dataclass(frozen=True)
class RecordEnvelope:
    tenant_id: str
    source: str
    record_id: str
    data: dict[str, Any]
    entity_id: str | None = None
    occurred_at: datetime | None = None

    @property
    def message_id(self) -> str:
        """JetStream's de-duplication key: a record published twice is stored once."""
        return f"{self.tenant_id}:{self.source}:{self.record_id}"

    def to_json(self) -> bytes:
        body = {
            "tenant_id": self.tenant_id,
            "source": self.source,
            "record_id": self.record_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "data": self.data,
        }
        return fast_json.dumps(body)

    @classmethod
    def from_json(cls, raw: bytes) -> RecordEnvelope:
        try:
            body = fast_json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedRecord("body", f"not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise MalformedRecord("body", "must be a JSON object")
        for field in ("tenant_id", "source", "record_id"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise MalformedRecord(field, "must be a non-empty string")
        if not isinstance(body.get("data"), dict):
            raise MalformedRecord("data", "must be a JSON object")
        entity_id = body.get("entity_id")
        if entity_id is not None and not isinstance(entity_id, str):
            raise MalformedRecord("entity_id", "must be a string or null")
        return cls(
            tenant_id=body["tenant_id"],
            source=body["source"],
            record_id=body["record_id"],
            data=body["data"],
            entity_id=entity_id,
            occurred_at=_parse_time(body.get("occurred_at")),
        )


RECORD_SEPARATOR = b"\n"


def unpack_records(body: bytes) -> list[bytes]:
    """A message's records, each as its envelope's JSON, for `RecordEnvelope.from_json`; a line
    that is not an envelope fails alone, and its text goes to the dead letters."""
    return body.split(RECORD_SEPARATOR)


def records_in(body: bytes) -> int:
    """How many records a message carries, without decoding them."""
    return body.count(RECORD_SEPARATOR) + 1


def batch_message_id(envelopes: Sequence[RecordEnvelope]) -> str:
    """JetStream's de-duplication key of a message: the record's own for one, else a digest of
    the batch's records, so the same batch published again is stored once. (A record may still
    reach the stream twice in two different batches; the window store and the alert desk each
    keep it once.)"""
    if len(envelopes) == 1:
        return envelopes[0].message_id
    digest = hashlib.sha256("\n".join(e.message_id for e in envelopes).encode()).hexdigest()
    return f"batch:{digest[:40]}"


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRecord("occurred_at", "must be an ISO 8601 string or null")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise MalformedRecord("occurred_at", f"not an ISO 8601 time: {value!r}") from None
