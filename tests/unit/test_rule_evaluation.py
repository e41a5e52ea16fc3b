"""Evaluating compiled rules: every operator, nulls as in SQL, type errors returned, not raised."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vigil.domain import (
    rule_evaluation,
    rule_functions,
    rule_operators,
    rule_syntax,
    rule_tokens,
    rule_tree,
    rule_values,
)
from vigil.domain.errors import RuleSyntaxError
from vigil.domain.rule_evaluation import (
    Evaluated,
    EvaluationError,
    compile_expression,
)
from vigil.domain.rule_functions import FUNCTIONS

RECORD = {
    "amount": 250.0,
    "count": 3,
    "country": "FR",
    "card_present": False,
    "vip": True,
    "nothing": None,
    "tags": ["travel", None, 7],
    "features": {"count_1d": 12, "mean_30d": 50.0, "window": {"max": 900}},
}


def value_of(text: str, record: dict[str, object] | None = None) -> object:
    outcome = compile_expression(text).evaluate(RECORD if record is None else record)
    assert isinstance(outcome, Evaluated), outcome
    return outcome.value


def error_of(text: str) -> str:
    outcome = compile_expression(text).evaluate(RECORD)
    assert isinstance(outcome, EvaluationError), outcome
    return outcome.reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("count + 2", 5),
        ("amount - 50", 200.0),
        ("count * 1.5", 4.5),
        ("7 / 2", 3.5),
        ("7 % 3", 1),
        ("-count", -3),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("-2 * -3", 6),
        ("features.count_1d / features.mean_30d", 0.24),
    ],
)
def test_arithmetic_works_on_numbers(text: str, value: object) -> None:
    assert value_of(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("amount > 100", True),
        ("amount >= 250", True),
        ("amount < 250", False),
        ("amount <= 250.0", True),
        ("count == 3.0", True),
        ("count != 3", False),
        ("country == 'FR'", True),
        ("country < 'GB'", True),
        ("'abc' >= 'abd'", False),
        ("vip == true", True),
        ("card_present != vip", True),
        ("100 < amount", True),
        ("count * 100 > amount", True),
    ],
)
def test_comparisons_compare_numbers_with_numbers_and_strings_with_strings(
    text: str, value: bool
) -> None:
    assert value_of(text) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("country in ['FR', 'DE']", True),
        ("country not in ['FR', 'DE']", False),
        ("count in [1, 2, 3.0]", True),
        ("count in ['3', true]", False),
        ("vip in [1, true]", True),
        ("'ra' in 'travel'", True),
        ("'x' not in country", True),
        ("'travel' in tags", True),
        ("7 in tags", True),
        ("country in [lower('fr'), upper('de')]", False),
        ("upper(lower(country)) in [lower('fr'), upper('fr')]", True),
        ("'GB' in ['FR', null]", None),
        ("'GB' not in ['FR', null]", None),
        ("'FR' in ['FR', null]", True),
        ("'missing' in tags", None),
        ("nothing in ['FR']", None),
        ("country in nothing", None),
        ("country in []", False),
    ],
)
def test_in_looks_for_a_like_value_in_a_list_or_a_part_of_a_string(
    text: str, value: bool | None
) -> None:
    assert value_of(text) is value


TRUTH = {"true": True, "false": False, "null": None}


@pytest.mark.parametrize("left", TRUTH)
@pytest.mark.parametrize("right", TRUTH)
def test_and_and_or_are_three_valued_as_in_sql(left: str, right: str) -> None:
    a, b = TRUTH[left], TRUTH[right]
    both = False if False in (a, b) else None if None in (a, b) else True
    either = True if True in (a, b) else None if None in (a, b) else False
    assert value_of(f"{left} and {right}") is both
    assert value_of(f"{left} or {right}") is either


def test_not_turns_true_and_false_round_and_leaves_null_unknown() -> None:
    assert [value_of(f"not {v}") for v in TRUTH] == [False, True, None]


def test_a_decisive_operand_settles_and_and_or_even_if_another_would_be_a_type_error() -> None:
    assert value_of("false and amount") is False
    assert value_of("true or 'x' * 2 > 1") is True
    assert value_of("a.b.c and false") is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("abs(-4.5)", 4.5),
        ("abs(count - 10)", 7),
        ("min(count, 2, 8)", 2),
        ("max(count, amount)", 250.0),
        ("max('a', 'b', country)", "b"),
        ("lower(country)", "fr"),
        ("upper('ab')", "AB"),
        ("len(country)", 2),
        ("len(tags)", 3),
        ("starts_with(country, 'F')", True),
        ("ends_with(country, 'F')", False),
        ("contains('card testing', 'test')", True),
        ("coalesce(nothing, missing, 'x', 'y')", "x"),
        ("coalesce(nothing, missing)", None),
        ("is_null(nothing)", True),
        ("is_null(features.nope)", True),
        ("is_null(count)", False),
    ],
)
def test_each_function_does_what_its_name_says(text: str, value: object) -> None:
    assert value_of(text) == value


def test_functions_are_implemented_exactly_for_the_names_the_parser_knows() -> None:
    lazy = {"coalesce", "is_null"}
    assert set(rule_functions._FUNCTIONS) | lazy == set(FUNCTIONS)


def test_dotted_names_look_into_nested_mappings_and_anything_missing_is_null() -> None:
    assert value_of("features.window.max") == 900
    assert value_of("features.window.min") is None
    assert value_of("features.count_1d.deeper") is None
    assert value_of("missing.anything") is None
    assert value_of("absent") is None


@pytest.mark.parametrize(
    "text",
    [
        "missing > 1",
        "1 == missing",
        "missing == null",
        "missing + 1",
        "count * nothing",
        "-missing",
        "abs(missing)",
        "max(1, missing)",
        "lower(missing)",
        "len(missing)",
        "starts_with(missing, 'a')",
        "contains(country, missing)",
        "count / 0",
        "amount % 0",
        "count / (count - 3)",
    ],
)
def test_null_and_division_by_zero_give_null(text: str) -> None:
    assert value_of(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("country > 3", "column 9: '>' cannot compare a string with a number"),
        ("amount == '250'", "column 8: '==' cannot compare a number with a string"),
        ("vip == 1", "column 5: '==' cannot compare a boolean with a number"),
        ("vip < card_present", "column 5: '<' does not order booleans"),
        ("'a' * 2", "column 5: '*' needs numbers, not a string and a number"),
        ("vip + 1", "column 5: '+' needs numbers, not a boolean and a number"),
        ("-country", "column 1: '-' needs a number, not a string"),
        ("not count", "column 1: 'not' needs true, false or null, not a number"),
        ("count and vip", "column 7: 'and' needs true, false or null, not a number"),
        ("card_present or 'yes'", "column 14: 'or' needs true, false or null, not a string"),
        ("abs(vip)", "column 1: abs needs a number, not a boolean"),
        ("max(1, 'b')", "column 1: max needs numbers or strings alike, not a number, a string"),
        ("lower(count)", "column 1: lower needs a string, not a number"),
        ("len(features)", "column 1: len needs a string or a list, not a record"),
        ("starts_with(count, 'a')", "column 1: starts_with needs two strings"),
        ("3 in country", "column 3: 'in' a string looks for a string, not a number"),
        ("country in count", "column 9: 'in' needs a list or a string on its right"),
        ("tags in ['a']", "column 6: 'in' looks for a number, string or boolean, not a list"),
        ("features not in tags", "column 10: 'not in' looks for a number, string or boolean"),
        ("tags == tags", "column 6: '==' cannot compare a list with a list"),
        ("features.window > 1", "column 17: '>' cannot compare a record with a number"),
    ],
)
def test_a_type_error_is_returned_with_its_column_not_raised(text: str, reason: str) -> None:
    assert error_of(text).startswith(reason)


def test_booleans_are_not_numbers_even_though_python_thinks_so() -> None:
    assert error_of("vip * 2").startswith("column 5: '*' needs numbers")
    assert value_of("vip in [1]") is False
    assert value_of("max(count, 2)") == 3


def test_a_number_too_large_for_a_float_is_an_error_not_an_exception() -> None:
    huge = {"big": 10**400}
    outcome = compile_expression("big * 1.5 > 1").evaluate(huge)
    assert outcome == EvaluationError("column 5: '*' gave a number too large to hold")


def test_a_rule_fires_only_on_exactly_true_and_a_non_boolean_result_is_an_error() -> None:
    assert compile_expression("amount > 100").fires(RECORD) is True
    assert compile_expression("amount > 1000").fires(RECORD) is False
    assert compile_expression("missing > 1").fires(RECORD) is False
    assert compile_expression("amount").fires(RECORD) == EvaluationError(
        "the rule gave a number, not true, false or null"
    )
    assert compile_expression("'a' * 2").fires(RECORD) == EvaluationError(
        "column 5: '*' needs numbers, not a string and a number"
    )


def test_a_type_error_on_a_later_line_names_its_line() -> None:
    outcome = compile_expression("amount > 1\nand country > 1").evaluate(RECORD)
    assert outcome == EvaluationError(
        "line 2, column 13: '>' cannot compare a string with a number"
    )


def test_a_compiled_expression_knows_its_text_and_the_names_it_reads() -> None:
    compiled = compile_expression("features.count_1d > 3 and country in home")
    assert compiled.names == {"features.count_1d", "country", "home"}
    assert compiled.text == "features.count_1d > 3 and country in home"


def test_compiling_bad_text_raises_a_syntax_error_on_the_given_field() -> None:
    with pytest.raises(RuleSyntaxError) as refused:
        compile_expression("amount >", "rules[4].expression")
    assert refused.value.field == "rules[4].expression"


def test_the_language_modules_never_eval_exec_compile_or_getattr() -> None:
    forbidden = {"eval", "exec", "compile", "getattr", "setattr", "__import__", "vars", "globals"}
    modules = (rule_tokens, rule_tree, rule_syntax, rule_functions, rule_values, rule_operators)
    for module in (*modules, rule_evaluation):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        called = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not called & forbidden, module.__name__
        assert "ast" not in imported


# Well-formed expressions over arbitrary records never raise out of the evaluator. ----------------

NAMES = st.sampled_from(["a", "b", "amount", "missing", "f.x", "f.g.h", "f.missing", "a.x"])
FLOATS = st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr)
STRINGS = st.text(max_size=6).map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'")
LEAVES = st.one_of(
    NAMES,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    FLOATS,
    STRINGS,
    st.sampled_from(["true", "false", "null", "[]"]),
)
OPERATORS = st.sampled_from(
    ["and", "or", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "/", "%"]
)


def _calls(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        [
            st.lists(children, min_size=least, max_size=most or least + 2).map(
                lambda args, name=name: f"{name}({', '.join(args)})"  # type: ignore[misc]
            )
            for name, (least, most) in FUNCTIONS.items()
        ]
    )


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, OPERATORS, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda child: f"(not {child})"),
        children.map(lambda child: f"(-{child})"),
        st.lists(children, max_size=4).map(lambda items: f"[{', '.join(items)}]"),
        _calls(children),
    )


EXPRESSIONS = st.recursive(LEAVES, _compound, max_leaves=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4))
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["x", "g", "h"]), inner, max_size=3)
    ),
    max_leaves=6,
)
CONTEXTS = st.dictionaries(st.sampled_from(["a", "b", "amount", "f"]), VALUES)


@settings(max_examples=600, deadline=None)
@given(EXPRESSIONS, CONTEXTS)
def test_well_formed_expressions_over_any_record_evaluate_or_return_an_error(
    text: str, context: dict[str, object]
) -> None:
    try:
        compiled = compile_expression(text)
    except RuleSyntaxError as refused:  # only the safety limits may refuse a generated expression
        assume("nests deeper" not in refused.reason and "at most" not in refused.reason)
        raise
    outcome = compiled.evaluate(context)
    fired = compiled.fires(context)
    if isinstance(outcome, EvaluationError):
        assert fired == outcome
    elif outcome.value is True or outcome.value is False or outcome.value is None:
        assert fired is (outcome.value is True)
    else:
        assert isinstance(fired, EvaluationError)
        assert fired.reason.startswith("the rule gave ")
