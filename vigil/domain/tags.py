"""Tags: short labels analysts put on alerts and cases to group and find them."""

from __future__ import annotations

import re

from vigil.domain.errors import InvalidCommand

MAX_TAGS = 20
"""Per alert or case; a longer list is a category system, which queues and filters are for."""

_TAG = re.compile(r"[a-z0-9][a-z0-9:_\-]{0,39}")


def tag_name(value: str) -> str:
    """The tag as stored: lower case, 1-40 letters, digits, ':', '_' or '-'."""
    tag = value.strip().lower()
    if not _TAG.fullmatch(tag):
        raise InvalidCommand(
            "tag",
            f"{value!r} is not a tag: use 1-40 letters, digits, ':', '_' or '-', "
            "starting with a letter or digit",
        )
    return tag


def with_tag(tags: frozenset[str], value: str, owner: str) -> tuple[str, list[str]]:
    """The normalised tag and the sorted tag list after adding it; refuses a repeat or overflow."""
    tag = tag_name(value)
    if tag in tags:
        raise InvalidCommand("tag", f"{owner} is already tagged {tag}")
    if len(tags) >= MAX_TAGS:
        raise InvalidCommand("tag", f"{owner} has {MAX_TAGS} tags already")
    return tag, sorted(tags | {tag})


def without_tag(tags: frozenset[str], value: str, owner: str) -> tuple[str, list[str]]:
    tag = tag_name(value)
    if tag not in tags:
        raise InvalidCommand("tag", f"{owner} is not tagged {tag}")
    return tag, sorted(tags - {tag})
