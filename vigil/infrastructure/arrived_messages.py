"""Messages that have arrived and wait for the worker's next batch, in the order they came."""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

Message = TypeVar("Message")


class ArrivedMessages(Generic[Message]):
    """Filled by a subscription's callback on the event loop, taken a batch at a time."""

    def __init__(self) -> None:
        self._waiting: collections.deque[Message] = collections.deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._waiting)

    def put(self, message: Message) -> None:
        self._waiting.append(message)
        self._ready.set()

    async def take(self, most: int, wait_seconds: float) -> list[Message]:
        """Up to `most` of what has arrived; waits up to `wait_seconds` for a first one."""
        waiting = self._waiting
        if not waiting:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), wait_seconds)
            except TimeoutError:
                return []
        return [waiting.popleft() for _ in range(min(most, len(waiting)))]
