"""A durable pull consumer's messages, asked for ahead and answered into one plain subscription.

nats-py's `fetch` waits on each message through a task of its own, which at the workers' rates
costs more than the work on the message. Here each pull request gets its own reply subject under
one inbox, so the server's end of a request (408 expired, 409 a limit or a change of leader) is
known to be that request's, and messages wait in order for the worker's next batch. Every
worker started with the same durable name shares the work.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg

STATUS = "Status"
"""The header nats-py puts a status message's code in."""
HEARTBEAT = "100"
MIN_WAIT_SECONDS = 0.01
"""A wait shorter than this is not worth a pull request's round trip."""
LOST_SECONDS = 1.0
"""How long past its expiry a request is still counted on: its end can be lost in a reconnect."""


def one_each(_: Msg) -> int:
    return 1


@dataclass
class _Request:
    remaining: int
    """Messages asked for and not yet delivered."""
    deadline: float


class PulledMessages:
    """Keeps up to `ahead` batches asked for or in hand. A batch is `most` units of work, a
    message weighing what `weigh` says (records in it, say); whole messages are taken, so a batch
    ends with the message that reaches `most`. With `lull_seconds`, a batch waits that long for
    each next message of a burst, so a busy stream gives full batches and a quiet one gives its
    messages at once. `max_bytes` caps what one request may bring, so big messages are not
    pulled far ahead of their work."""

    def __init__(
        self,
        client: Client,
        stream: str,
        durable: str,
        weigh: Callable[[Msg], int] = one_each,
        ahead: int = 2,
        lull_seconds: float = 0.0,
        max_bytes: int | None = None,
        expires_seconds: float = 2.0,
    ) -> None:
        self.client = client
        self.weigh = weigh
        self.ahead = ahead
        self.lull_seconds = lull_seconds
        self.max_bytes = max_bytes
        self.expires_seconds = expires_seconds
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = f"{client.new_inbox()}.pull"
        self._numbers = itertools.count(1)
        self._requests: dict[str, _Request] = {}
        """Requests the server may still be filling, oldest first."""
        self._arrived: deque[tuple[Msg, int]] = deque()
        self._arrived_weight = 0
        self._changed = asyncio.Event()
        self._listening = False

    async def listen(self) -> None:
        """Subscribes to the replies; once, before the first `take`."""
        if not self._listening:
            await self.client.subscribe(f"{self._inbox}.*", cb=self._received)
            self._listening = True

    async def take(self, most: int, wait_seconds: float) -> list[Msg]:
        """The next batch; waits up to `wait_seconds` for its first message, else []."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        await self._ask(most)
        while not self._arrived:
            left = deadline - loop.time()
            if left < MIN_WAIT_SECONDS:
                return []
            await self._ask(most)  # a request that ended meanwhile is replaced
            if not await self._changes_within(left):
                return []
        # A burst is under way: let it fill the batch while messages keep coming.
        while self.lull_seconds and self._arrived_weight < most and self._requests:
            if not await self._changes_within(self.lull_seconds):
                break
        taken: list[Msg] = []
        weight = 0
        while self._arrived and weight < most:
            message, weighs = self._arrived.popleft()
            weight += weighs
            taken.append(message)
        self._arrived_weight -= weight
        return taken

    async def _changes_within(self, seconds: float) -> bool:
        self._changed.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def _ask(self, most: int) -> None:
        """Asks for another batch unless `ahead` are on their way or in hand already."""
        now = time.monotonic()
        for reply in [r for r, request in self._requests.items() if request.deadline < now]:
            del self._requests[reply]
        if len(self._requests) >= self.ahead or self._arrived_weight >= self.ahead * most:
            return
        reply = f"{self._inbox}.{next(self._numbers)}"
        self._requests[reply] = _Request(most, now + self.expires_seconds + LOST_SECONDS)
        request: dict[str, int] = {"batch": most, "expires": int(self.expires_seconds * 1e9)}
        if self.max_bytes is not None:
            request["max_bytes"] = self.max_bytes
        await self.client.publish(self._next, json.dumps(request).encode(), reply)

    async def _received(self, message: Msg) -> None:
        headers = message.headers
        if headers and not message.reply and STATUS in headers:
            if headers[STATUS] != HEARTBEAT:
                # The request is over; its subject is the request's own.
                self._requests.pop(message.subject, None)
        else:
            # The server fills requests in order; a message's subject is its own, not the
            # request's, so it counts against the oldest one.
            oldest = next(iter(self._requests), None)
            if oldest is not None:
                request = self._requests[oldest]
                request.remaining -= 1
                if request.remaining <= 0:
                    del self._requests[oldest]
            weighs = self.weigh(message)
            self._arrived.append((message, weighs))
            self._arrived_weight += weighs
        self._changed.set()
