"""The MQTT bridge: paho-mqtt subscribed to every `mqtt` source's topic filters, its messages
handed from paho's network thread to the asyncio loop.

The session is persistent (MQTT 3.1.1, clean session off) and acknowledgements are manual, so a
QoS 1 message is acknowledged to the broker only once intake has it; one published while
the bridge is away, or received but never acknowledged, comes again when it is back. paho
reconnects by itself, waiting longer after each failure.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from vigil.application.source_routes import AddressedDelivery
from vigil.infrastructure.arrived_messages import ArrivedMessages

log = logging.getLogger("vigil.mqtt")

_TLS_SCHEMES = frozenset({"mqtts", "ssl"})


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """`mqtt://[user:password@]host[:port]`, or `mqtts://` for TLS."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "tcp", *_TLS_SCHEMES} or not parts.hostname:
            raise ValueError(f"{url!r} is not an MQTT broker URL (mqtt://host:port)")
        tls = parts.scheme in _TLS_SCHEMES
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class MqttDelivery:
    """One message off a topic, acknowledged to the broker on the connection it came on."""

    __slots__ = ("_bridge", "address", "data", "generation", "mid", "qos")
    message_id = None

    def __init__(self, bridge: MqttBridge, message: mqtt.MQTTMessage, generation: int) -> None:
        self._bridge = bridge
        self.address: str = message.topic
        self.data = bytes(message.payload)
        self.qos: int = message.qos
        self.mid: int = message.mid
        self.generation = generation

    async def ack(self) -> None:
        self._bridge.ack(self)

    async def nak(self, delay: float | None = None) -> None:
        """MQTT has no negative acknowledgement: the bridge hands it out again itself, and the
        broker still holds it should this process stop first."""
        self._bridge.hand_back(self, delay or 0.0)


class MqttBridge:
    def __init__(
        self,
        url: str,
        client_id: str,
        keepalive_seconds: int = 30,
        reconnect_seconds: tuple[int, int] = (1, 30),
    ) -> None:
        self.broker = BrokerAddress.parse(url)
        self.client_id = client_id
        self.keepalive_seconds = keepalive_seconds
        self.reconnect_seconds = reconnect_seconds
        self.client: mqtt.Client | None = None
        self.generation = 0
        """Counts connections: an acknowledgement belongs to the connection it came on."""
        self._wanted: dict[str, int] = {}
        self._subscribed: dict[str, int] = {}
        """What the broker has confirmed the session holds."""
        self._asked: dict[int, list[tuple[str, int]]] = {}
        """Subscriptions sent on this connection and not yet confirmed, by packet id."""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: ArrivedMessages[MqttDelivery] = ArrivedMessages()

    @property
    def subscriptions(self) -> dict[str, int]:
        """The topic filters the broker has confirmed, with their QoS."""
        with self._lock:
            return dict(self._subscribed)

    async def follow(self, patterns: Mapping[str, int]) -> None:
        """Subscribes at QoS 0 or 1, never 2: at QoS 2 paho answers the broker as the message
        arrives and keeps it in memory only, so a crash before intake would lose it; at QoS 1
        it is the broker's until acknowledged, and a second copy is one record all the same."""
        with self._lock:
            self._wanted = {topic: min(qos, 1) for topic, qos in patterns.items()}
            if self.client is not None:
                self._sync_subscriptions(self.client)
        if self.client is None and patterns:
            self._start(asyncio.get_running_loop())

    async def next_batch(self, max_messages: int, wait_seconds: float) -> list[AddressedDelivery]:
        return list(await self._arrived.take(max_messages, wait_seconds))

    def ack(self, delivery: MqttDelivery) -> None:
        # After a reconnect the broker sends what was not acknowledged again, and that copy is
        # the one to acknowledge.
        if delivery.qos and self.client is not None and delivery.generation == self.generation:
            self.client.ack(delivery.mid, delivery.qos)

    def hand_back(self, delivery: MqttDelivery, delay: float) -> None:
        if self._loop is not None and delivery.generation == self.generation:
            self._loop.call_later(delay, self._arrive, delivery)

    async def close(self) -> None:
        """Disconnects cleanly; the broker keeps the session and what was not acknowledged."""
        client, self.client = self.client, None
        if client is not None:
            client.disconnect()
            await anyio.to_thread.run_sync(client.loop_stop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        broker = self.broker
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set()
        client.reconnect_delay_set(*self.reconnect_seconds)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_subscribe = self._confirmed
        client.on_message = self._received
        self.client = client
        # Connects in paho's thread, retrying until the broker answers: a broker that is down
        # holds up nothing else.
        client.connect_async(broker.host, broker.port, keepalive=self.keepalive_seconds)
        client.loop_start()
        log.info("MQTT bridge %s connecting to %s:%d", self.client_id, broker.host, broker.port)

    def _sync_subscriptions(self, client: mqtt.Client) -> None:
        """Brings the session's subscriptions to what the sources want; called with the lock
        held. What fails for want of a connection is done on the next connect."""
        gone = [topic for topic in self._subscribed if topic not in self._wanted]
        if gone and client.unsubscribe(gone)[0] == MQTTErrorCode.MQTT_ERR_SUCCESS:
            for topic in gone:
                del self._subscribed[topic]
        known = dict(self._subscribed)
        for asked in self._asked.values():
            known.update(asked)
        new = [(t, q) for t, q in self._wanted.items() if known.get(t) != q]
        if not new:
            return
        sent, mid = client.subscribe(new)
        if sent == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
            self._asked[mid] = new

    # paho's thread -----------------------------------------------------------------------------
    # An exception raised in a callback would end paho's thread, so none may escape.

    def _connected(
        self, client: mqtt.Client, _: Any, flags: mqtt.ConnectFlags, reason: Any, __: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused %s: %s", self.client_id, reason)
            return
        with self._lock:
            self.generation += 1
            # What was asked on the last connection and not confirmed may never have arrived.
            self._asked = {}
            if not flags.session_present:
                self._subscribed = {}
            self._sync_subscriptions(client)
        log.info(
            "MQTT bridge %s connected (session kept: %s)", self.client_id, flags.session_present
        )

    def _disconnected(self, client: mqtt.Client, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if self.client is not None:
            log.warning(
                "MQTT bridge %s lost its connection (%s); reconnecting", self.client_id, reason
            )

    def _confirmed(
        self, client: mqtt.Client, _: Any, mid: int, reasons: list[Any], __: Any
    ) -> None:
        with self._lock:
            asked = self._asked.pop(mid, [])
        for (topic, qos), reason in zip(asked, reasons, strict=False):
            if reason.is_failure:
                log.error("MQTT broker refused the subscription to %r: %s", topic, reason)
                continue
            with self._lock:
                self._subscribed[topic] = qos
            log.info("MQTT bridge %s subscribed to %r at QoS %d", self.client_id, topic, qos)

    def _received(self, client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        loop = self._loop
        try:
            delivery = MqttDelivery(self, message, self.generation)
            if loop is not None:
                loop.call_soon_threadsafe(self._arrive, delivery)
        except (RuntimeError, UnicodeDecodeError) as error:
            # The loop has closed, or the topic is not UTF-8: left unacknowledged, it comes
            # again on the next connection.
            log.warning("MQTT message %d not taken: %s", message.mid, error)

    # the asyncio loop --------------------------------------------------------------------------

    def _arrive(self, delivery: MqttDelivery) -> None:
        self._arrived.put(delivery)
