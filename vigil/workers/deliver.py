"""The deliver worker: escalations fanned out to their subscriptions, then sent, each attempt
recorded before its message is acknowledged.

Two loops share the process and nothing else. The fan-out takes Alert.Escalated notices from
DOMAIN, schedules one delivery per subscription the escalation is for, puts the orders on
ESCALATIONS and only then acknowledges the notice. The sender takes orders and sends each in a
task of its own, at most `per_receiver` at once to one subscription (an order for a busy one goes
back to the stream for a moment, so it holds no place), each attempt within its timeout. A failed
attempt goes back to the stream with a growing, jittered delay, never a sleep here; a refused or
last one goes to the dead letters with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from uuid import UUID

import anyio.to_thread

from vigil.application.delivery import (
    AttemptResult,
    Channel,
    DeliveryOrder,
    DeliveryOrders,
    EscalationNotices,
    PendingOrder,
    RetryPolicy,
)
from vigil.application.delivery_records import SendingState
from vigil.application.domain_events import DomainEventNotice
from vigil.domain.delivery import AttemptOutcome, Delivery
from vigil.domain.subscription import Destination

log = logging.getLogger("vigil.workers.deliver")

NOTICES_AT_ONCE = 50
ORDERS_AT_ONCE = 100
TROUBLE_RETRY_SECONDS = 2.0
"""When the event store or the stream fails us, not the receiver: the message comes again."""
BUSY_RETRY_SECONDS = 0.5
"""An order for a subscription with `per_receiver` attempts in flight waits this long."""

PlanOrders = Callable[[DomainEventNotice], Sequence[DeliveryOrder]]
ReadState = Callable[[DeliveryOrder], SendingState]
RecordAttempt = Callable[[DeliveryOrder, AttemptResult], Delivery]
RecordDeadLetter = Callable[[DeliveryOrder, str], Delivery]


class EscalationFanOut:
    """Escalated notices into delivery orders; a notice is acknowledged once its orders are on
    the stream, which stores each once whatever the repeats."""

    def __init__(
        self, notices: EscalationNotices, orders: DeliveryOrders, plan: PlanOrders
    ) -> None:
        self.notices = notices
        self.orders = orders
        self.plan = plan

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        while not stop.is_set():
            await self.follow(wait_seconds)

    async def follow(self, wait_seconds: float) -> int:
        """One batch of notices; how many orders they made."""
        made = 0
        for pending in await self.notices.next_batch(NOTICES_AT_ONCE, wait_seconds):
            try:
                orders = await anyio.to_thread.run_sync(self.plan, pending.notice)
                if orders:
                    await self.orders.publish(orders)
            except Exception:
                log.exception("escalation %d not fanned out yet", pending.notice.notification_id)
                await pending.retry_in(TROUBLE_RETRY_SECONDS)
                continue
            await pending.ack()
            made += len(orders)
        return made


class DeliverySender:
    """Sends the ESCALATIONS stream's orders through their subscriptions' channels."""

    def __init__(
        self,
        orders: DeliveryOrders,
        channels: Mapping[str, Channel],
        read_state: ReadState,
        record_attempt: RecordAttempt,
        record_dead_letter: RecordDeadLetter,
        retry: RetryPolicy,
        attempt_timeout: float,
        per_receiver: int,
    ) -> None:
        self.orders = orders
        self.channels = channels
        self.read_state = read_state
        self.record_attempt = record_attempt
        self.record_dead_letter = record_dead_letter
        self.retry = retry
        self.attempt_timeout = attempt_timeout
        self.per_receiver = per_receiver
        self._in_flight: Counter[UUID] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event, wait_seconds: float = 1.0) -> None:
        try:
            while not stop.is_set():
                await self.take(wait_seconds)
        except asyncio.CancelledError:
            # Killed: what is in flight is dropped unrecorded, and comes again after the ack wait.
            for task in self._tasks:
                task.cancel()
            raise
        # Stopped: what is in flight is finished first.
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def take(self, wait_seconds: float) -> int:
        """Starts the next batch's attempts; how many were started."""
        started = 0
        for pending in await self.orders.next_batch(ORDERS_AT_ONCE, wait_seconds):
            receiver = pending.order.subscription_id
            if self._in_flight[receiver] >= self.per_receiver:
                await pending.retry_in(BUSY_RETRY_SECONDS)
                continue
            self._in_flight[receiver] += 1
            task = asyncio.create_task(self._deliver(pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _deliver(self, pending: PendingOrder) -> None:
        order = pending.order
        try:
            await self._attempt(pending)
        except Exception:
            log.exception("delivery %s not recorded; it comes again", order.key)
            await pending.retry_in(TROUBLE_RETRY_SECONDS)
        finally:
            self._in_flight[order.subscription_id] -= 1
            if self._in_flight[order.subscription_id] <= 0:
                del self._in_flight[order.subscription_id]

    async def _attempt(self, pending: PendingOrder) -> None:
        order = pending.order
        state = await anyio.to_thread.run_sync(self.read_state, order)
        if state.delivery.settled:
            await pending.ack()  # recorded before; the ack was lost
            return
        subscription = state.subscription
        if subscription is None or not subscription.active:
            why = "removed" if subscription is None else "paused"
            reason = f"subscription {order.subscription} was {why} before the delivery"
            await anyio.to_thread.run_sync(self.record_dead_letter, order, reason)
            await self._dead(pending, reason)
            return
        destination = subscription.destination
        await pending.working()
        result = await self._send(self.channels[destination.kind], order, destination)
        delivery = await anyio.to_thread.run_sync(self.record_attempt, order, result)
        if delivery.delivered:
            await pending.ack()
        elif delivery.dead_letter_reason is not None:
            await self._dead(pending, delivery.dead_letter_reason)
        else:
            delay = self.retry.delay_after(delivery.attempts)
            log.info("delivery %s failed (%s); again in %.1fs", order.key, result.error, delay)
            await pending.retry_in(delay)

    async def _send(
        self, channel: Channel, order: DeliveryOrder, destination: Destination
    ) -> AttemptResult:
        seconds = self.attempt_timeout
        try:
            # The channel bounds its own attempt; this is the guard for one that does not.
            async with asyncio.timeout(seconds + 1.0):
                return await channel.send(order, destination, seconds)
        except TimeoutError:
            return AttemptResult(AttemptOutcome.FAILED, error=f"no answer within {seconds:g}s")

    async def _dead(self, pending: PendingOrder, reason: str) -> None:
        log.warning("delivery %s dead-lettered: %s", pending.order.key, reason)
        await self.orders.dead_letter(pending.order, reason)
        await pending.ack()
