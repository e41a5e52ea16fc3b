"""The rule language's values as compiled expressions see them, and the refusal of a wrong kind.

Values are null, booleans, numbers, strings and lists; booleans are not numbers. A compiled
expression is a `Run`: a closure from the record (with its features) to a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Context = Mapping[str, object]
Run = Callable[[Context], object]


class Refused(Exception):
    """Raised inside the closures, caught at the top: cheaper than checking results at each node."""

    def __init__(self, at: int, reason: str) -> None:
        super().__init__(reason)
        self.at = at
        self.reason = reason


def is_number(value: object) -> bool:
    kind_of = type(value)
    if kind_of is int or kind_of is float:
        return True
    return kind_of is not bool and isinstance(value, int | float)


def kind(value: object) -> str:
    """The value's kind in the rule language's words, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return "a record" if isinstance(value, Mapping) else f"a {type(value).__name__}"
