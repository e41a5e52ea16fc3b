"""Rule expressions compiled once into nested closures, then evaluated for every scored record.

Values are null, booleans, numbers, strings and lists; booleans are not numbers. A name missing
from the record (at any step of its path) is null, and null behaves as in SQL: comparisons,
arithmetic and most functions give null, `and`/`or`/`not` are three-valued, `is_null` and
`coalesce` see it. Division or modulo by zero is null. A type mismatch (a string against a number,
`'a' * 2`, `abs(true)`) is not a Python exception but an EvaluationError naming where it happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vigil.domain.rule_functions import call
from vigil.domain.rule_operators import (
    ARITHMETIC,
    arithmetic,
    comparison,
    comparison_with_constant,
    constant_membership,
    logical,
    membership,
    minus,
    negation,
)
from vigil.domain.rule_syntax import parse, where
from vigil.domain.rule_tree import (
    Binary,
    Call,
    ListOf,
    Literal,
    Logical,
    Name,
    Negate,
    Node,
    Not,
    names_read,
)
from vigil.domain.rule_values import Context, Refused, Run, is_number, kind


@dataclass(frozen=True, slots=True)
class Evaluated:
    value: object


@dataclass(frozen=True, slots=True)
class EvaluationError:
    """Why an expression could not be evaluated on this record; the rule counts as not firing."""

    reason: str


Outcome = Evaluated | EvaluationError


@dataclass(frozen=True)
class CompiledExpression:
    """An expression ready to run; `names` are the dotted names it reads."""

    text: str
    names: frozenset[str]
    run: Run

    def evaluate(self, context: Context) -> Outcome:
        try:
            return Evaluated(self.run(context))
        except Refused as refused:
            return EvaluationError(f"{where(self.text, refused.at)}: {refused.reason}")

    def fires(self, context: Context) -> bool | EvaluationError:
        """True only when the expression is exactly true; a value that is not true, false or
        null is an error, since a rule that yields a number or a string is a mistake."""
        try:
            value = self.run(context)
        except Refused as refused:
            return EvaluationError(f"{where(self.text, refused.at)}: {refused.reason}")
        if value is True:
            return True
        if value is False or value is None:
            return False
        return EvaluationError(f"the rule gave {kind(value)}, not true, false or null")


def compile_expression(text: str, field: str = "expression") -> CompiledExpression:
    """Parses (RuleSyntaxError names `field`) and compiles the expression."""
    tree = parse(text, field)
    return CompiledExpression(text, names_read(tree), compile_node(tree))


def compile_node(node: Node) -> Run:
    match node:
        case Literal(value=value):
            return lambda context: value
        case Name(path=path):
            return _lookup(path)
        case ListOf(items=items):
            runs = tuple(compile_node(item) for item in items)
            return lambda context: tuple(run(context) for run in runs)
        case Not(operand=operand):
            return negation(compile_node(operand), node.at)
        case Negate(operand=operand):
            return minus(compile_node(operand), node.at)
        case Logical(op=op, operands=operands):
            return logical(op, tuple(compile_node(each) for each in operands), node.at)
        case Binary(op="in" | "not in" as op, left=left, right=right):
            return _membership(op, compile_node(left), right, node.at)
        case Binary(op=op, left=left, right=right) if op in ARITHMETIC:
            return arithmetic(op, compile_node(left), compile_node(right), node.at)
        case Binary(op=op, left=left, right=right):
            return _comparison(op, left, right, node.at)
        case Call(function=function, args=args):
            return call(function, tuple(compile_node(arg) for arg in args), node.at)
    raise TypeError(f"not an expression node: {node!r}")


def _comparison(op: str, left: Node, right: Node, at: int) -> Run:
    operand = compile_node(left)
    if isinstance(right, Literal) and (is_number(right.value) or isinstance(right.value, str)):
        return comparison_with_constant(op, operand, right.value, at)
    return comparison(op, operand, compile_node(right), at)


def _membership(op: str, needle: Run, haystack: Node, at: int) -> Run:
    """A list of constants is matched through sets, built once."""
    if isinstance(haystack, ListOf) and all(isinstance(i, Literal) for i in haystack.items):
        constant = tuple(item.value for item in haystack.items if isinstance(item, Literal))
        return constant_membership(needle, constant, op == "not in", at)
    return membership(op, needle, compile_node(haystack), at)


def _lookup(path: tuple[str, ...]) -> Run:
    first, rest = path[0], path[1:]
    if not rest:
        return lambda context: context.get(first)
    if len(rest) == 1:
        second = rest[0]

        def run_pair(context: Context) -> object:
            value = context.get(first)
            if type(value) is dict or isinstance(value, Mapping):
                return value.get(second)
            return None

        return run_pair

    def run(context: Context) -> object:
        value = context.get(first)
        for key in rest:
            if type(value) is not dict and not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    return run
