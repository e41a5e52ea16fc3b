"""Dead letters on JetStream: one subject per source and tenant, `vigil.dlq.<source>.<tenant>`,
so a tenant's letters are counted and paged by the server without reading anyone else's.
The error travels in headers, the body as it was refused."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from vigil.application.dead_letters import StoredDeadLetter
from vigil.application.ports import DeadLetter
from vigil.infrastructure.settings import NatsSettings

ERROR_FIELD = "Vigil-Error-Field"
ERROR_REASON = "Vigil-Error-Reason"
ERROR_STAGE = "Vigil-Error-Stage"
TENANT = "Vigil-Tenant"
SOURCE = "Vigil-Source"
ORIGIN = "Vigil-Origin"
PSEUDONYMISED = "Vigil-Pseudonymised"
MESSAGE_ID = "Nats-Msg-Id"

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def subject_token(value: str) -> str:
    """The value itself when it is a safe subject token, else a digest of it."""
    if _TOKEN.fullmatch(value):
        return value
    return "h" + hashlib.sha256(value.encode()).hexdigest()[:24]


def dead_letter_subject(settings: NatsSettings, tenant_id: str, source: str) -> str:
    return f"{settings.subject('dlq', subject_token(source))}.{subject_token(tenant_id)}"


class JetStreamDeadLetters:
    """Sends dead letters without waiting for each ack, then waits for them all."""

    def __init__(self, js: JetStreamContext, settings: NatsSettings) -> None:
        self.js = js
        self.settings = settings

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        futures = [
            await self.js.publish_async(
                dead_letter_subject(self.settings, letter.tenant_id, letter.source),
                letter.body,
                headers=_headers(letter),
            )
            for letter in letters
        ]
        await asyncio.gather(*futures)


class JetStreamDeadLetterBox:
    """Reads, counts and removes dead letters by subject; the DLQ stream is never consumed."""

    def __init__(self, js: JetStreamContext, settings: NatsSettings) -> None:
        self.js = js
        self.settings = settings
        self.stream = settings.stream("DLQ")

    async def count(self, tenant_id: str, source: str | None = None) -> dict[str, int]:
        source_token = "*" if source is None else subject_token(source)
        wanted = f"{self.settings.subject('dlq', source_token)}.{subject_token(tenant_id)}"
        info = await self.js.stream_info(self.stream, subjects_filter=wanted)
        counts: dict[str, int] = {}
        root = len(self.settings.subject("dlq", ""))
        for subject, count in (info.state.subjects or {}).items():
            counts[subject[root:].rsplit(".", 1)[0]] = count
        return counts

    async def page(
        self, tenant_id: str, source: str, after: int, first: int
    ) -> list[StoredDeadLetter]:
        subject = dead_letter_subject(self.settings, tenant_id, source)
        letters: list[StoredDeadLetter] = []
        while len(letters) < first:
            try:
                message = await self.js.get_msg(
                    self.stream, seq=after + 1, subject=subject, next=True
                )
            except NotFoundError:
                break
            letters.append(_stored(message, tenant_id, source))
            after = message.seq or after + 1
        return letters

    async def newest(self, tenant_id: str, source: str) -> int:
        subject = dead_letter_subject(self.settings, tenant_id, source)
        try:
            message = await self.js.get_msg(self.stream, subject=subject)
        except NotFoundError:
            return 0
        return message.seq or 0

    async def remove(self, sequences: Sequence[int]) -> None:
        for sequence in sequences:
            try:
                await self.js.delete_msg(self.stream, sequence)
            except NotFoundError:
                continue  # removed already, by a replay that ran beside this one

    async def resend(self, letter: StoredDeadLetter) -> None:
        # Known by its place in the dead letters, not by its record's id: that id's first
        # publication may still be in the duplicate window, which would swallow this one.
        subject = self.settings.subject("records", letter.letter.source)
        headers = {MESSAGE_ID: f"dlq-{letter.sequence}"}
        await self.js.publish(subject, letter.letter.body, headers=headers)


def _headers(letter: DeadLetter) -> dict[str, str]:
    headers = {
        TENANT: letter.tenant_id,
        SOURCE: letter.source,
        ERROR_FIELD: letter.field[:200],
        ERROR_REASON: _one_line(letter.reason)[:1000],
        ERROR_STAGE: letter.stage,
        ORIGIN: _one_line(letter.origin)[:500],
        PSEUDONYMISED: "1" if letter.pseudonymised else "0",
    }
    if letter.replay_of is not None:
        # Refused again on replay: one letter per letter replayed, however often it is.
        headers[MESSAGE_ID] = f"dlq-{letter.replay_of}-again"
    return headers


def _one_line(text: str) -> str:
    """Header values end at a line break, so a reason quoting a record keeps to one line."""
    return " ".join(text.split())


def _stored(message: RawStreamMsg, tenant_id: str, source: str) -> StoredDeadLetter:
    headers = message.headers or {}
    letter = DeadLetter(
        tenant_id=headers.get(TENANT, tenant_id),
        source=headers.get(SOURCE, source),
        body=message.data or b"",
        field=headers.get(ERROR_FIELD, ""),
        reason=headers.get(ERROR_REASON, ""),
        stage=headers.get(ERROR_STAGE, ""),
        origin=headers.get(ORIGIN, ""),
        pseudonymised=headers.get(PSEUDONYMISED) == "1",
    )
    stored_at = message.time if isinstance(message.time, datetime) else datetime.now(UTC)
    return StoredDeadLetter(message.seq or 0, letter, stored_at)
