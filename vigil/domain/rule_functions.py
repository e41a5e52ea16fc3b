"""The functions a rule may call: the whitelist with each one's arity, and what each one does.

The parser checks each call against FUNCTIONS; the compiler builds it with `call`. A function given
null gives null, except `coalesce` and `is_null`, which look for it; a wrong kind is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vigil.domain.rule_values import Context, Refused, Run, is_number, kind

FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "coalesce": (2, None),
    "contains": (2, 2),
    "ends_with": (2, 2),
    "is_null": (1, 1),
    "len": (1, 1),
    "lower": (1, 1),
    "max": (2, None),
    "min": (2, None),
    "starts_with": (2, 2),
    "upper": (1, 1),
}
"""Each function the language knows, with its least and greatest number of arguments."""


def call(function: str, args: tuple[Run, ...], at: int) -> Run:
    if function == "coalesce":
        return _coalesce(args)
    if function == "is_null":
        (only,) = args
        return lambda context: only(context) is None
    apply = _FUNCTIONS[function]
    if len(args) == 1:
        (first,) = args
        return lambda context: apply(at, first(context))
    if len(args) == 2:
        first, second = args
        return lambda context: apply(at, first(context), second(context))
    return lambda context: apply(at, *(arg(context) for arg in args))


def _coalesce(args: tuple[Run, ...]) -> Run:
    def run(context: Context) -> object:
        for arg in args:
            value = arg(context)
            if value is not None:
                return value
        return None

    return run


def _absolute(at: int, value: object) -> object:
    if value is None:
        return None
    if is_number(value):
        return abs(value)  # type: ignore[arg-type]  # is_number narrows to int or float
    raise Refused(at, f"abs needs a number, not {kind(value)}")


def _extreme(name: str, pick: Callable[[Sequence[object]], object]) -> Callable[..., object]:
    def apply(at: int, *values: object) -> object:
        if any(value is None for value in values):
            return None
        if all(is_number(v) for v in values) or all(isinstance(v, str) for v in values):
            return pick(values)
        kinds = ", ".join(kind(value) for value in values)
        raise Refused(at, f"{name} needs numbers or strings alike, not {kinds}")

    return apply


def _text(name: str, change: Callable[[str], object]) -> Callable[..., object]:
    def apply(at: int, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, str):
            return change(value)
        raise Refused(at, f"{name} needs a string, not {kind(value)}")

    return apply


def _texts(name: str, test: Callable[[str, str], bool]) -> Callable[..., object]:
    def apply(at: int, text: object, part: object) -> object:
        if text is None or part is None:
            return None
        if isinstance(text, str) and isinstance(part, str):
            return test(text, part)
        raise Refused(at, f"{name} needs two strings, not {kind(text)} and {kind(part)}")

    return apply


def _length(at: int, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str | list | tuple):
        return len(value)
    raise Refused(at, f"len needs a string or a list, not {kind(value)}")


_FUNCTIONS: dict[str, Callable[..., object]] = {
    "abs": _absolute,
    "min": _extreme("min", min),  # type: ignore[arg-type]  # alike values, checked first
    "max": _extreme("max", max),  # type: ignore[arg-type]  # alike values, checked first
    "lower": _text("lower", str.lower),
    "upper": _text("upper", str.upper),
    "len": _length,
    "starts_with": _texts("starts_with", str.startswith),
    "ends_with": _texts("ends_with", str.endswith),
    "contains": _texts("contains", str.__contains__),
}
"""The functions that take evaluated arguments; coalesce and is_null are lazy, so built apart."""
