"""Loading a page's nested objects up front, so their resolvers need not wait.

A resolver that awaits costs graphql-core a coroutine and a gather per object: a hundred of each
on a page of 50 alerts asking for their cases and labels. A list resolver that knows its page
will ask for them loads them through the request's DataLoaders first, and the nested resolvers
answer from the loaders' settled futures without awaiting.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar, cast

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from vigil.graphql.context import Info

R = TypeVar("R")
T = TypeVar("T")


def selects(info: Info, *path: str) -> bool:
    """Whether the query asks, below the field being resolved, for the field at `path` (names
    as the query spells them), through any fragments."""
    level: list[Selection] = list(info.selected_fields)
    for name in ("", *path):
        found = [f for f in _fields(level) if not name or f.name == name]
        if not found:
            return False
        level = [s for f in found for s in f.selections]
    return True


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def now_or_later(loading: Awaitable[R | None], present: Callable[[R], T]) -> T | None:
    """`present` of what a DataLoader loads, None for nothing: at once when the load has settled
    already, else an awaitable of it. graphql-core awaits whatever awaitable a resolver returns,
    so a synchronous resolver may hand one back; the type names what the client receives."""
    if isinstance(loading, Future) and loading.done():
        return _present(loading.result(), present)

    async def later() -> T | None:
        return _present(await loading, present)

    return cast(T | None, later())


def _present(value: R | None, present: Callable[[R], T]) -> T | None:
    return None if value is None else present(value)
