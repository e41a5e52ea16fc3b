"""Personal fields of a record: how they are shown to those who may not see them in clear."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

MASK = "\u2022" * 6
SHOWN_TAIL = 4
"""Characters left in clear at the end of a long value, as on a card statement."""


def masked(value: Any) -> str:
    """The value masked: its last four characters when it is long enough that they do not give
    it away (twelve or more), nothing of it otherwise, and never its length."""
    text = str(value)
    tail = text[-SHOWN_TAIL:] if len(text) >= 3 * SHOWN_TAIL else ""
    return MASK + tail


def masked_record(record: Mapping[str, Any], personal: Collection[str]) -> dict[str, Any]:
    """The record with every personal field that holds a value masked."""
    return {
        name: masked(value) if name in personal and value is not None else value
        for name, value in record.items()
    }
