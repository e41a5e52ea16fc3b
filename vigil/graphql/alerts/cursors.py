"""Edge cursors over the queue's page cursors.

The `AlertQueue` port hands out one opaque cursor per page (after its last row), while a GraphQL
connection gives every edge a cursor. An edge cursor is therefore the page cursor the edge's page
started from plus how many rows of that page to skip; resuming from one costs a query that finds
the keyset position again. `endCursor` (and the last edge) always has a skip of 0, so walking with
it is the read model's own keyset pagination, stable while alerts arrive and change status.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from vigil.application.alert_queue import AlertPage, AlertQueue, AlertQueueFilter

MAX_SKIP = 500
"""No page is longer, so no edge cursor skips more rows than this."""


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class EdgeCursor:
    page_after: str | None
    skip: int = 0

    def encode(self) -> str:
        raw = json.dumps([self.page_after, self.skip], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def decode(cls, cursor: str) -> EdgeCursor:
        try:
            page_after, skip = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        except (ValueError, TypeError, binascii.Error) as error:
            raise InvalidCursor(cursor) from error
        if not isinstance(skip, int) or not 0 <= skip <= MAX_SKIP:
            raise InvalidCursor(cursor)
        if not isinstance(page_after, str | None):
            raise InvalidCursor(cursor)
        return cls(page_after, skip)


@dataclass(frozen=True)
class CursorPage:
    page: AlertPage
    edge_cursors: list[str]
    end_cursor: str | None


async def read_page(
    queue: AlertQueue, where: AlertQueueFilter, first: int, after: str | None
) -> CursorPage:
    start = EdgeCursor.decode(after) if after else EdgeCursor(None)
    page_after = start.page_after
    if start.skip:
        # Turn "k rows into that page" back into the queue's own keyset cursor, so the page
        # itself is read exactly like one that started from an endCursor.
        skipped = await queue.page(where, start.skip, start.page_after)
        if len(skipped.rows) < start.skip or skipped.end_cursor is None:
            return CursorPage(AlertPage([], skipped.total, None, False), [], None)
        page_after = skipped.end_cursor
    page = await queue.page(where, first, page_after)
    cursors = [EdgeCursor(page_after, index + 1).encode() for index in range(len(page.rows))]
    end = EdgeCursor(page.end_cursor).encode() if page.rows and page.end_cursor else None
    if end is not None:
        # The last edge resumes exactly where the next page starts: use the keyset cursor.
        cursors[-1] = end
    return CursorPage(page, cursors, end)
