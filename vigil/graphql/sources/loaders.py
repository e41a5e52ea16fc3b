"""Per-request loaders of the data-source fields: the contracts of a list of sources come from
the event store in one thread, and their dead-letter counts from JetStream in one request."""

from __future__ import annotations

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from vigil.application.source_desk import DeadLettersUnavailable, SourceDesk, SourceProfile


@dataclass(frozen=True)
class SourceContext:
    """The data-source use cases and this request's loaders over them."""

    desk: SourceDesk
    profiles: DataLoader[str, SourceProfile | None]
    dead_letter_counts: DataLoader[str, int | None]
    """None while the dead letters are unreachable."""


def source_context(desk: SourceDesk, tenant_id: str) -> SourceContext:
    async def load_profiles(names: list[str]) -> list[SourceProfile | None]:
        return await desk.profiles(tenant_id, names)

    async def load_counts(names: list[str]) -> list[int | None]:
        # One source is counted on its own subject; several, by every subject of the tenant.
        try:
            counts = await desk.dead_letter_counts(tenant_id, names[0] if len(names) == 1 else None)
        except DeadLettersUnavailable:
            return [None for _ in names]
        return [counts.get(name, 0) for name in names]

    return SourceContext(
        desk=desk,
        profiles=DataLoader(load_fn=load_profiles),
        dead_letter_counts=DataLoader(load_fn=load_counts),
    )
