"""The rule language's syntax: what parses to which tree, and what is refused, where and why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.domain import rule_syntax
from vigil.domain.errors import InvalidCommand, RuleSyntaxError
from vigil.domain.rule_functions import FUNCTIONS
from vigil.domain.rule_syntax import MAX_DEPTH, MAX_LENGTH, MAX_LIST_ITEMS, parse
from vigil.domain.rule_tree import (
    Binary,
    Call,
    ListOf,
    Literal,
    LiteralValue,
    Logical,
    Name,
    Negate,
    Node,
    Not,
    names_read,
)

a, b, c = Name(("a",)), Name(("b",)), Name(("c",))


def refusal(text: str, field: str = "rules[2].expression") -> RuleSyntaxError:
    with pytest.raises(RuleSyntaxError) as refused:
        parse(text, field)
    return refused.value


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a or b and c", Logical("or", (a, Logical("and", (b, c))))),
        ("a and b or c", Logical("or", (Logical("and", (a, b)), c))),
        ("a or b or c", Logical("or", (a, b, c))),
        ("not a and b", Logical("and", (Not(a), b))),
        ("not a == b", Not(Binary("==", a, b))),
        ("not not a", Not(Not(a))),
        ("a == b and b != c", Logical("and", (Binary("==", a, b), Binary("!=", b, c)))),
        ("a + b > c", Binary(">", Binary("+", a, b), c)),
        ("a + b * c", Binary("+", a, Binary("*", b, c))),
        ("(a + b) * c", Binary("*", Binary("+", a, b), c)),
        ("a - b - c", Binary("-", Binary("-", a, b), c)),
        ("a / b % c", Binary("%", Binary("/", a, b), c)),
        ("-a * b", Binary("*", Negate(a), b)),
        ("- -a", Negate(Negate(a))),
        ("a in [1, 'x']", Binary("in", a, ListOf((Literal(1), Literal("x"))))),
        ("a not in b", Binary("not in", a, b)),
        ("a + 1 <= max(b, c)", Binary("<=", Binary("+", a, Literal(1)), Call("max", (b, c)))),
        ("a >= -2", Binary(">=", a, Literal(-2))),
        ("a < b", Binary("<", a, b)),
        ("a > b", Binary(">", a, b)),
    ],
)
def test_operators_bind_from_or_loosest_to_calls_tightest(text: str, tree: Node) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ("-7", -7),
        ("'it\\'s'", "it's"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'tab\\tnew\\nline\\\\'", "tab\tnew\nline\\"),
        ("'\\u00e9t\\u00e9'", "été"),
        ("'double \" inside single'", 'double " inside single'),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_literals_read_as_their_values(text: str, value: LiteralValue) -> None:
    assert parse(text) == Literal(value)
    assert type(parse(text)).__name__ == "Literal"


def test_an_integer_stays_an_integer_and_a_float_a_float() -> None:
    assert type(parse("1").value) is int  # type: ignore[attr-defined]
    assert type(parse("1.0").value) is float  # type: ignore[attr-defined]


def test_lists_hold_any_expressions_and_may_be_empty_or_nested() -> None:
    assert parse("[]") == ListOf(())
    assert parse("[1, [a], null]") == ListOf((Literal(1), ListOf((a,)), Literal(None)))


def test_dotted_names_are_paths_into_nested_mappings() -> None:
    assert parse("features.count_1d") == Name(("features", "count_1d"))
    assert parse("_private.x9") == Name(("_private", "x9"))


def test_an_expression_tells_which_names_it_reads() -> None:
    tree = parse("amount > 3 * features.mean_30d and coalesce(country, 'FR') in [home, 'DE']")
    assert names_read(tree) == {"amount", "features.mean_30d", "country", "home"}
    assert names_read(parse("max(1, 2) > 1")) == frozenset()


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("amount > max(a, b", 18, "expected ')' after the arguments of max"),
        ("amount > max(a, b c)", 19, "expected ')' after the arguments of max"),
        ("a < b < c", 7, "'<' cannot follow another comparison; join comparisons with 'and'"),
        ("a == b in c", 8, "'in' cannot follow another comparison"),
        ("a not in b == c", 12, "'==' cannot follow another comparison"),
        ("", 1, "expected a value, found the end of the expression"),
        ("a and", 6, "expected a value after 'and', found the end of the expression"),
        ("a + * b", 5, "expected a value after '+', found '*'"),
        ("a b", 3, "expected an operator or the end, found 'b'"),
        ("(a + b", 7, "expected ')' to close the '(' at column 1"),
        ("a + b)", 6, "expected an operator or the end, found ')'"),
        ("[1, 2", 6, "expected ',' or ']' in the list at column 1"),
        ("[1, ]", 5, "expected a value after ',', found ']'"),
        ("a = 1", 3, "unexpected character '='; compare with '=='"),
        ("a && b", 3, "unexpected character '&'; write 'and'"),
        ("a ! b", 3, "unexpected character '!'"),
        ("a.", 3, "expected a name after '.'"),
        ("1.", 2, "expected digits after '.' in a number"),
        ("12abc", 3, "unexpected 'a' after the number 12"),
        ("1e999", 1, "the number 1e999 is too large"),
        ("x == 'open", 6, "the string opened here is not closed with '"),
        ("'a\\q'", 3, "unknown escape in a string"),
        ("'\\ud800'", 2, "a '\\u' escape cannot name a surrogate"),
        ("true.x", 1, "'true' is a keyword and cannot be part of a name"),
        ("a.in", 3, "'in' is a keyword and cannot be part of a name"),
        ("a == 'é' and é", 14, "unexpected character 'é'"),
    ],
)
def test_a_syntax_error_names_the_field_the_column_and_what_was_expected(
    text: str, column: int, message: str
) -> None:
    refused = refusal(text)
    assert refused.field == "rules[2].expression"
    assert refused.reason.startswith(f"column {column}: {message}")
    assert (refused.line, refused.column) == (1, column)


def test_a_syntax_error_is_an_invalid_command_on_the_field_the_caller_names() -> None:
    refused = refusal("a <", field="rules[0].expression")
    assert isinstance(refused, InvalidCommand)
    assert str(refused) == "rules[0].expression: column 4: expected a value after '<', found " + (
        "the end of the expression"
    )


def test_a_syntax_error_on_a_later_line_names_the_line_too() -> None:
    refused = refusal("amount > 100\n  and country ==")
    assert refused.reason.startswith("line 2, column 17: expected a value after '=='")
    assert (refused.line, refused.column) == (2, 17)


@pytest.mark.parametrize("name", ["__class__", "x.__globals__", "__import__"])
def test_names_starting_with_two_underscores_are_refused(name: str) -> None:
    assert "names starting with '__' are not allowed" in refusal(f"{name} == 1").reason


@pytest.mark.parametrize("function", ["eval", "exec", "getattr", "open", "features.max"])
def test_an_unknown_function_is_refused_at_parse_time_naming_it(function: str) -> None:
    refused = refusal(f"1 + {function}(x)")
    assert refused.reason.startswith(f"column 5: unknown function {function}; the functions are")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abs(1, 2)", "abs takes 1 argument, not 2"),
        ("is_null()", "is_null takes 1 argument, not 0"),
        ("starts_with(a)", "starts_with takes 2 arguments, not 1"),
        ("max(a)", "max takes at least 2 arguments, not 1"),
        ("coalesce()", "coalesce takes at least 2 arguments, not 0"),
    ],
)
def test_a_function_called_with_the_wrong_number_of_arguments_is_refused(
    text: str, message: str
) -> None:
    assert refusal(text).reason == f"column 1: {message}"


def test_every_function_accepts_the_number_of_arguments_it_takes() -> None:
    for function, (least, most) in FUNCTIONS.items():
        for count in {least, most or least + 3}:
            parse(f"{function}({', '.join(['x'] * count)})")


def test_an_expression_may_be_as_long_as_the_limit_and_no_longer() -> None:
    at_limit = "a" + " " * (MAX_LENGTH - 2) + "b"
    assert refusal(at_limit).reason.startswith("column 2000: expected an operator")
    too_long = "x" * (MAX_LENGTH + 1)
    assert refusal(too_long).reason == (
        f"column 2001: an expression is at most {MAX_LENGTH} characters, not {MAX_LENGTH + 1}"
    )


@pytest.mark.parametrize(
    "nest",
    [
        lambda n: "(" * n + "a" + ")" * n,
        lambda n: "-" * n + "a",
        lambda n: "not " * n + "a",
        lambda n: "abs(" * n + "a" + ")" * n,
        lambda n: "[" * n + "]" * n,
        lambda n: "a" + " + a" * n,
        lambda n: "a" + " * a" * n,
    ],
    ids=["parentheses", "minus", "not", "calls", "lists", "additions", "products"],
)
def test_nesting_deeper_than_the_limit_is_refused_however_it_is_written(nest: object) -> None:
    parse(nest(MAX_DEPTH - 1))  # type: ignore[operator]  # the parametrized builders
    refused = refusal(nest(MAX_DEPTH + 1))  # type: ignore[operator]
    assert f"the expression nests deeper than {MAX_DEPTH} levels" in refused.reason


def test_chains_of_and_or_are_flat_so_long_ones_are_not_deep() -> None:
    tree = parse(" or ".join(f"x == {n}" for n in range(100)))
    assert isinstance(tree, Logical)
    assert (len(tree.operands), tree.depth) == (100, 3)


def test_a_list_holds_at_most_the_limit_of_items_even_if_the_text_could_be_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1,000 one-digit items take 2,001 characters, so the length limit alone already stops them.
    monkeypatch.setattr(rule_syntax, "MAX_LENGTH", 10 * MAX_LENGTH)
    longest = parse("[" + ",".join("1" * MAX_LIST_ITEMS) + "]")
    assert isinstance(longest, ListOf)
    assert len(longest.items) == MAX_LIST_ITEMS
    refused = refusal("[" + ",".join("1" * (MAX_LIST_ITEMS + 1)) + "]")
    assert refused.reason == f"column {2 * MAX_LIST_ITEMS + 2}: a list holds at most 1000 items"


# Whatever the text, the parser answers with a tree or a RuleSyntaxError, never anything else. --

TOKENS = st.sampled_from(
    [
        "a", "b.c", "__x", "1", "1.5", "1e3", "'s'", '"t', "\\", "true", "null", "and", "or",
        "not", "in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "(", ")", "[",
        "]", ",", ".", "max", "abs", "coalesce", "=", "!", "é", "\n", "'\\u12", "9" * 30,
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(TOKENS, max_size=40).map(" ".join)))
def test_random_text_never_makes_the_parser_raise_anything_but_a_syntax_error(text: str) -> None:
    refused: RuleSyntaxError | None = None
    try:
        parse(text, "rules[0].expression")
    except RuleSyntaxError as error:
        refused = error
    if refused is not None:
        assert refused.field == "rules[0].expression"
        assert refused.reason.startswith(("column ", "line "))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["(", "-", "not ", "[", "max(1,", "a +"]), st.integers(MAX_DEPTH + 1, 3000))
def test_deeply_nested_text_is_refused_without_exhausting_the_stack(opening: str, n: int) -> None:
    with pytest.raises(RuleSyntaxError, match=r"nests deeper|at most"):
        parse(opening * n + "1")
