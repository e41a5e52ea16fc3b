"""Free text in commands: comments, reasons, summaries. Bounded, and required where it matters."""

from __future__ import annotations

from vigil.domain.errors import InvalidCommand

MAX_TEXT = 4000


def bounded_text(field: str, value: str) -> str:
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise InvalidCommand(field, f"must be at most {MAX_TEXT} characters")
    return text


def required_text(field: str, value: str) -> str:
    text = bounded_text(field, value)
    if not text:
        raise InvalidCommand(field, "must not be empty")
    return text
