"""YAML documents that remember where each value was written, so a refusal names the line.

A file may hold several documents separated by `---`. Each comes with a map from field paths
(`schema.properties.TX_AMOUNT.type`, `config.topics[1]`) to the line that wrote them; a fault
in a value that is not in the file (a missing key) is placed at the nearest enclosing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

from vigil.domain.errors import InvalidCommand

T = TypeVar("T")


class DocumentError(ValueError):
    """A document that cannot be applied: the file, the line, the field and the reason."""

    def __init__(self, origin: str, line: int | None, field: str | None, reason: str) -> None:
        where = origin if line is None else f"{origin}, line {line}"
        super().__init__(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")
        self.origin = origin
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Document:
    origin: str
    body: Any
    lines: dict[str, int]

    def line_of(self, field: str) -> int | None:
        """The line of the field, or of the nearest enclosing field the file wrote."""
        path = field
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("")

    def parse(self, parse: Callable[[Any], T]) -> T:
        """`parse(body)`, with an InvalidCommand turned into a DocumentError at its line."""
        try:
            return parse(self.body)
        except InvalidCommand as error:
            raise DocumentError(
                self.origin, self.line_of(error.field), error.field, error.reason
            ) from None

    def refused(self, error: InvalidCommand) -> DocumentError:
        return DocumentError(self.origin, self.line_of(error.field), error.field, error.reason)


def load_documents(text: str, origin: str) -> list[Document]:
    """Every document in the text; DocumentError with the line for text that is not YAML."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        bodies = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise DocumentError(origin, line, None, f"not YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise DocumentError(origin, None, None, f"not YAML: {error}") from None
    documents = [
        Document(origin, body, dict(_lines(node, "")))
        for node, body in zip(nodes, bodies, strict=True)
        if node is not None
    ]
    if not documents:
        raise DocumentError(origin, None, None, "holds no document")
    return documents


def _lines(node: yaml.Node, path: str) -> Iterator[tuple[str, int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            yield from _lines(value, f"{path}.{name}" if path else name)
            yield (f"{path}.{name}" if path else name), key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _lines(item, f"{path}[{index}]")
