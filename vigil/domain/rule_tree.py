"""The tree a rule expression parses to: frozen nodes, compared by shape and not by position."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

LiteralValue = None | bool | int | float | str


class Node:
    """An expression; `at` is where it starts in the text (0-based), kept out of equality."""

    at: int

    def children(self) -> tuple[Node, ...]:
        return ()

    @cached_property
    def depth(self) -> int:
        return 1 + max((child.depth for child in self.children()), default=0)


@dataclass(frozen=True)
class Literal(Node):
    value: LiteralValue
    at: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class ListOf(Node):
    items: tuple[Node, ...]
    at: int = field(default=0, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True)
class Name(Node):
    path: tuple[str, ...]
    """`features.count_1d` is ("features", "count_1d"): keys into nested mappings."""
    at: int = field(default=0, compare=False, repr=False)

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Not(Node):
    operand: Node
    at: int = field(default=0, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Negate(Node):
    operand: Node
    at: int = field(default=0, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Logical(Node):
    """`and` or `or` over two or more operands: a chain is one node, not a deep tree."""

    op: str
    operands: tuple[Node, ...]
    at: int = field(default=0, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return self.operands


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic (`+ - * / %`) or a comparison (`== != < <= > >= in`, `not in`)."""

    op: str
    left: Node
    right: Node
    at: int = field(default=0, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]
    at: int = field(default=0, compare=False, repr=False)

    def children(self) -> tuple[Node, ...]:
        return self.args


def names_read(node: Node) -> frozenset[str]:
    """Every dotted name the expression looks up, so a caller can check them against a source."""
    names: set[str] = set()
    waiting = [node]
    while waiting:
        current = waiting.pop()
        if isinstance(current, Name):
            names.add(current.dotted)
        waiting.extend(current.children())
    return frozenset(names)
