"""The rule language's operators, each built as a closure over its compiled operands.

Null behaves as in SQL: comparisons and arithmetic give null, `and`/`or`/`not` are three-valued.
Division or modulo by zero is null. A type mismatch (a string against a number, `'a' * 2`) raises
Refused, which the compiled expression turns into an EvaluationError naming where it happened.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from vigil.domain.rule_values import Context, Refused, Run, is_number, kind

Compare = Callable[[Any, Any], object]

ARITHMETIC: dict[str, Callable[[object, object], object]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_ORDER: dict[str, Compare] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def negation(operand: Run, at: int) -> Run:
    def run(context: Context) -> object:
        value = operand(context)
        if value is None:
            return None
        if isinstance(value, bool):
            return not value
        raise Refused(at, f"'not' needs true, false or null, not {kind(value)}")

    return run


def minus(operand: Run, at: int) -> Run:
    def run(context: Context) -> object:
        value = operand(context)
        if value is None:
            return None
        if is_number(value):
            return -value  # type: ignore[operator]  # is_number narrows to int or float
        raise Refused(at, f"'-' needs a number, not {kind(value)}")

    return run


def logical(op: str, operands: tuple[Run, ...], at: int) -> Run:
    """Three-valued: `and` is false if any operand is false, else null if any is null."""
    decisive = op == "or"
    otherwise = not decisive

    def run(context: Context) -> object:
        unknown = False
        for operand in operands:
            value = operand(context)
            if value is decisive:
                return decisive
            if value is None:
                unknown = True
            elif value is not otherwise:
                raise Refused(at, f"'{op}' needs true, false or null, not {kind(value)}")
        return None if unknown else otherwise

    return run


def arithmetic(op: str, left: Run, right: Run, at: int) -> Run:
    apply = ARITHMETIC[op]

    def run(context: Context) -> object:
        a, b = left(context), right(context)
        if a is None or b is None:
            return None
        if not (is_number(a) and is_number(b)):
            raise Refused(at, f"'{op}' needs numbers, not {kind(a)} and {kind(b)}")
        try:
            return apply(a, b)
        except ZeroDivisionError:
            return None
        except OverflowError:
            raise Refused(at, f"'{op}' gave a number too large to hold") from None

    return run


def comparison(op: str, left: Run, right: Run, at: int) -> Run:
    """Numbers with numbers, strings with strings, booleans only for (in)equality; else refused."""
    compare = _ORDER[op]
    checked = _checked_comparison(op, compare, at)

    def run(context: Context) -> object:
        a, b = left(context), right(context)
        kind_a = type(a)
        if kind_a is type(b) and (kind_a is float or kind_a is int or kind_a is str):
            return compare(a, b)
        return checked(a, b)

    return run


def comparison_with_constant(op: str, operand: Run, constant: object, at: int) -> Run:
    """The common `name > number` or `name > string`: the constant is neither run nor checked."""
    compare = _ORDER[op]
    checked = _checked_comparison(op, compare, at)
    if isinstance(constant, str):

        def run_text(context: Context) -> object:
            a = operand(context)
            return compare(a, constant) if type(a) is str else checked(a, constant)

        return run_text

    def run_number(context: Context) -> object:
        a = operand(context)
        kind_a = type(a)
        if kind_a is float or kind_a is int:
            return compare(a, constant)
        return checked(a, constant)

    return run_number


def _checked_comparison(op: str, compare: Compare, at: int) -> Compare:
    ordering = op not in ("==", "!=")

    def checked(a: object, b: object) -> object:
        if a is None or b is None:
            return None
        if not _alike(a, b):
            raise Refused(at, f"'{op}' cannot compare {kind(a)} with {kind(b)}")
        if ordering and isinstance(a, bool):
            raise Refused(at, f"'{op}' does not order booleans; compare them with '==' or '!='")
        return compare(a, b)

    return checked


def membership(op: str, needle: Run, items: Run, at: int) -> Run:
    """`x in [...]` is a match on a like value; with no match, a null in the list makes it null.
    `x in s` for strings is a substring test."""
    negated = op == "not in"

    def run(context: Context) -> object:
        found = _found_in(needle(context), items(context), op, at)
        return found if found is None or not negated else not found

    return run


def constant_membership(needle: Run, items: Sequence[object], negated: bool, at: int) -> Run:
    strings = frozenset(item for item in items if isinstance(item, str))
    numbers = frozenset(item for item in items if is_number(item))
    booleans = frozenset(item for item in items if isinstance(item, bool))
    missing = None if None in items else False
    op = "not in" if negated else "in"

    def run(context: Context) -> object:
        value = needle(context)
        if isinstance(value, str):
            found = True if value in strings else missing
        elif is_number(value):
            found = True if value in numbers else missing
        elif isinstance(value, bool):
            found = True if value in booleans else missing
        elif value is None:
            return None
        else:
            raise Refused(at, f"'{op}' looks for a number, string or boolean, not {kind(value)}")
        return found if found is None or not negated else not found

    return run


def _found_in(value: object, items: object, op: str, at: int) -> bool | None:
    if value is None or items is None:
        return None
    if isinstance(items, str):
        if not isinstance(value, str):
            raise Refused(at, f"'{op}' a string looks for a string, not {kind(value)}")
        return value in items
    if not isinstance(items, list | tuple):
        raise Refused(at, f"'{op}' needs a list or a string on its right, not {kind(items)}")
    if not (is_number(value) or isinstance(value, str | bool)):
        raise Refused(at, f"'{op}' looks for a number, string or boolean, not {kind(value)}")
    missing: bool | None = False
    for item in items:
        if item is None:
            missing = None
        elif _alike(value, item) and value == item:
            return True
    return missing


def _alike(a: object, b: object) -> bool:
    """Whether two non-null values may be compared: numbers, strings or booleans, both the same."""
    if is_number(a):
        return is_number(b)
    if isinstance(a, str):
        return isinstance(b, str)
    return isinstance(a, bool) and isinstance(b, bool)
