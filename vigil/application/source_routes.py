"""Which source a message belongs to, by the subject or topic it came on.

Each streamed source (`nats`, `mqtt`) names the subjects or topic filters its records arrive on;
a message goes to the one source whose patterns take its address. A message that no source
takes, or that two take, belongs to no source: it is dead-lettered under `_unrouted` (a name no
source can have) with the address and the reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from vigil.application.source_directory import ListedSource
from vigil.domain.source_contract import SourceContract, SourceType
from vigil.domain.subject_patterns import mqtt_topic_matches, nats_subject_matches

UNROUTED = "_unrouted"
"""The dead letters' source of messages that belong to no source."""

REMEMBERED = 1 << 14
"""Addresses whose route is kept at hand: a busy subject is matched once, not per message."""

_MATCHERS: Mapping[SourceType, Callable[[str, str], bool]] = {
    SourceType.NATS: nats_subject_matches,
    SourceType.MQTT: mqtt_topic_matches,
}
_ADDRESS = {SourceType.NATS: "subject", SourceType.MQTT: "topic"}


class AddressedDelivery(Protocol):
    """One message off a subject or topic; acknowledged only once intake has it."""

    @property
    def address(self) -> str:
        """The subject or topic it arrived on."""
        ...

    @property
    def data(self) -> bytes: ...

    @property
    def message_id(self) -> str | None:
        """The id its publisher gave it, if any (`Nats-Msg-Id`)."""
        ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float | None = None) -> None:
        """Hands it back, to be delivered again after `delay` seconds."""
        ...


class AddressedFeed(Protocol):
    """Messages off the subjects or topics of one kind of streamed source."""

    async def follow(self, patterns: Mapping[str, int]) -> None:
        """Takes exactly these patterns from now on; the value is the MQTT QoS, which NATS
        ignores. Nothing is connected or created before the first non-empty call."""
        ...

    async def next_batch(
        self, max_messages: int, wait_seconds: float
    ) -> list[AddressedDelivery]: ...


@dataclass(frozen=True)
class RoutedSource:
    tenant_id: str
    name: str
    patterns: tuple[str, ...]
    qos: int = 0


@dataclass(frozen=True)
class Unrouted:
    """Why a message belongs to no source, and the tenant its dead letter is kept for."""

    field: str
    reason: str
    tenant_id: str


class SourceRoutes:
    """The streamed sources of one kind, and the source each address belongs to."""

    def __init__(self, kind: SourceType, sources: Iterable[RoutedSource], default_tenant: str):
        self.kind = kind
        self.sources = tuple(sources)
        self.default_tenant = default_tenant
        self._matches = _MATCHERS[kind]
        self._known: dict[str, RoutedSource | Unrouted] = {}

    @classmethod
    def of(
        cls, kind: SourceType, listed: Iterable[ListedSource], default_tenant: str
    ) -> SourceRoutes:
        sources = [
            _routed(source.tenant_id, source.contract)
            for source in listed
            if source.contract.source_type is kind
        ]
        return cls(kind, sources, default_tenant)

    def patterns(self) -> dict[str, int]:
        """Every source's patterns, each at the highest QoS a source asks of it."""
        wanted: dict[str, int] = {}
        for source in self.sources:
            for pattern in source.patterns:
                wanted[pattern] = max(wanted.get(pattern, 0), source.qos)
        return wanted

    def route(self, address: str) -> RoutedSource | Unrouted:
        known = self._known.get(address)
        if known is None:
            known = self._route(address)
            if len(self._known) >= REMEMBERED:
                self._known.clear()
            self._known[address] = known
        return known

    def _route(self, address: str) -> RoutedSource | Unrouted:
        field = _ADDRESS[self.kind]
        takers = [s for s in self.sources if any(self._matches(p, address) for p in s.patterns)]
        if len(takers) == 1:
            return takers[0]
        if not takers:
            reason = f"no {self.kind} source takes the {field} {address!r}"
            return Unrouted(field, reason, self.default_tenant)
        names = ", ".join(f"{s.tenant_id}/{s.name}" for s in takers)
        reason = f"the {field} {address!r} is taken by more than one source ({names})"
        tenants = {s.tenant_id for s in takers}
        tenant = tenants.pop() if len(tenants) == 1 else self.default_tenant
        return Unrouted(field, reason, tenant)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceRoutes) and (self.kind, self.sources) == (
            other.kind,
            other.sources,
        )

    __hash__ = None  # type: ignore[assignment]  # compared by content, never a dictionary key


def _routed(tenant_id: str, contract: SourceContract) -> RoutedSource:
    config = contract.config
    if contract.source_type is SourceType.NATS:
        return RoutedSource(tenant_id, contract.name, (config["subject"],))
    return RoutedSource(tenant_id, contract.name, tuple(config["topics"]), config["qos"])
