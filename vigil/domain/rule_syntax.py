"""The detection rules' expression language: text to a tree of frozen nodes, or a RuleSyntaxError.

A safe language on purpose: literals, dotted names looked up in the record and its features,
arithmetic, comparisons, three-valued `and`/`or`/`not`, and a short list of functions. Nothing in it
reaches Python's namespace. Precedence, lowest first: `or`; `and`; `not`; comparisons (`== != < <=
> >= in`, `not in`, which do not chain); `+ -`; `* / %`; unary `-`; calls and parentheses.
Hostile text is bounded: at most MAX_LENGTH characters, MAX_DEPTH levels, MAX_LIST_ITEMS per list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from vigil.domain.errors import RuleSyntaxError
from vigil.domain.rule_functions import FUNCTIONS
from vigil.domain.rule_tokens import SyntaxMistake, Token, tokenize
from vigil.domain.rule_tree import Binary, Call, ListOf, Literal, Logical, Name, Negate, Node, Not

MAX_LENGTH = 2000
MAX_DEPTH = 32
MAX_LIST_ITEMS = 1000
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})

N = TypeVar("N", bound=Node)


def position(text: str, at: int) -> tuple[int, int]:
    """The 1-based line and column of offset `at`."""
    line_start = text.rfind("\n", 0, at) + 1
    return text.count("\n", 0, at) + 1, at - line_start + 1


def where(text: str, at: int) -> str:
    line, column = position(text, at)
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def parse(text: str, field: str = "expression") -> Node:
    """The expression's tree; RuleSyntaxError names `field` and says where and what was expected."""
    try:
        if len(text) > MAX_LENGTH:
            raise SyntaxMistake(
                MAX_LENGTH, f"an expression is at most {MAX_LENGTH} characters, not {len(text)}"
            )
        return _Parser(text).whole_expression()
    except SyntaxMistake as mistake:
        line, column = position(text, mistake.at)
        reason = f"{where(text, mistake.at)}: {mistake.message}"
        raise RuleSyntaxError(field, reason, line, column) from None


class _Parser:
    """Recursive descent, one method per precedence level; `nesting` bounds the recursion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def accept(self, *symbols: str) -> Token | None:
        if self.token.kind == "symbol" and self.token.text in symbols:
            return self.take()
        return None

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise SyntaxMistake(token.at, f"the expression nests deeper than {MAX_DEPTH} levels")
        yield
        self.nesting -= 1

    def made(self, node: N) -> N:
        if node.depth > MAX_DEPTH:
            raise SyntaxMistake(node.at, f"the expression nests deeper than {MAX_DEPTH} levels")
        return node

    def whole_expression(self) -> Node:
        node = self.expression()
        if self.token.kind != "end":
            found = self.token.shown()
            raise SyntaxMistake(self.token.at, f"expected an operator or the end, found {found}")
        return node

    def expression(self) -> Node:
        return self.logical("or", self.conjunction)

    def conjunction(self) -> Node:
        return self.logical("and", self.negation)

    def logical(self, op: str, operand: Callable[[], Node]) -> Node:
        operands = [operand()]
        at = self.token.at
        while self.accept(op):
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        return self.made(Logical(op, tuple(operands), at))

    def negation(self) -> Node:
        token = self.accept("not")
        if token is None:
            return self.comparison()
        with self.nested(token):
            return self.made(Not(self.negation(), token.at))

    def comparison_operator(self) -> tuple[str, Token] | None:
        token = self.token
        if token.kind == "symbol" and token.text in COMPARISONS:
            return token.text, self.take()
        following = self.tokens[min(self.index + 1, len(self.tokens) - 1)]
        if token.text == "not" and token.kind == "symbol" and following.text == "in":
            self.take()
            self.take()
            return "not in", token
        return None

    def comparison(self) -> Node:
        left = self.additive()
        operator = self.comparison_operator()
        if operator is None:
            return left
        op, token = operator
        node = self.made(Binary(op, left, self.additive(), token.at))
        again = self.comparison_operator()
        if again is not None:
            raise SyntaxMistake(
                again[1].at,
                f"'{again[0]}' cannot follow another comparison; join comparisons with 'and' "
                "(a < b and b < c)",
            )
        return node

    def additive(self) -> Node:
        return self.arithmetic(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self.arithmetic(("*", "/", "%"), self.unary)

    def arithmetic(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        node = operand()
        while token := self.accept(*ops):
            node = self.made(Binary(token.text, node, operand(), token.at))
        return node

    def unary(self) -> Node:
        token = self.accept("-")
        if token is None:
            return self.primary()
        with self.nested(token):
            operand = self.unary()
        value = operand.value if isinstance(operand, Literal) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Literal(-value, token.at)  # a negative number is a literal, not an operation
        return self.made(Negate(operand, token.at))

    def primary(self) -> Node:
        before = self.tokens[self.index - 1] if self.index else None
        token = self.take()
        if token.kind in ("number", "string") or (
            token.kind == "symbol" and token.text in ("true", "false", "null")
        ):
            return Literal(token.value, token.at)
        if token.kind == "name":
            if self.accept("("):
                return self.call(token)
            return Name(tuple(token.text.split(".")), token.at)
        if token.text == "(" and token.kind == "symbol":
            with self.nested(token):
                node = self.expression()
            if not self.accept(")"):
                opened = where(self.text, token.at)
                raise SyntaxMistake(self.token.at, f"expected ')' to close the '(' at {opened}")
            return node
        if token.text == "[" and token.kind == "symbol":
            return self.list_of(token)
        after = f" after '{before.text}'" if before is not None else ""
        raise SyntaxMistake(token.at, f"expected a value{after}, found {token.shown()}")

    def call(self, name: Token) -> Node:
        function = name.text
        if function not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise SyntaxMistake(name.at, f"unknown function {function}; the functions are {known}")
        args: list[Node] = []
        with self.nested(name):
            if not self.accept(")"):
                args.append(self.expression())
                while self.accept(","):
                    args.append(self.expression())
                if not self.accept(")"):
                    raise SyntaxMistake(
                        self.token.at, f"expected ')' after the arguments of {function}"
                    )
        least, most = FUNCTIONS[function]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = f"{least}" if least == most else f"at least {least}"
            plural = "" if wanted == "1" else "s"
            raise SyntaxMistake(
                name.at, f"{function} takes {wanted} argument{plural}, not {len(args)}"
            )
        return self.made(Call(function, tuple(args), name.at))

    def list_of(self, opening: Token) -> Node:
        items: list[Node] = []
        with self.nested(opening):
            if not self.accept("]"):
                items.append(self.expression())
                while self.accept(","):
                    if len(items) == MAX_LIST_ITEMS:
                        raise SyntaxMistake(
                            self.token.at, f"a list holds at most {MAX_LIST_ITEMS} items"
                        )
                    items.append(self.expression())
                if not self.accept("]"):
                    opened = where(self.text, opening.at)
                    raise SyntaxMistake(
                        self.token.at, f"expected ',' or ']' in the list at {opened}"
                    )
        return self.made(ListOf(tuple(items), opening.at))
