"""How a rule version and a model's severity decide whether a record raises an alert, and how high.

Every rule is evaluated on every record; `hits` are the rules that fired, in rule order. Then:
- a suppress hit means no alert, whatever else fired (`suppressed_by` names the first);
- otherwise the model's severity stands (None: the model did not flag the record);
- if grade rules fired and there is an alert, its severity becomes the highest among them, which
  may lower the model's grade: that is what grading is for;
- if raise rules fired, the severity is at least the highest among them, so rules alone can alert.
A rule whose evaluation fails counts as not firing and is listed in `errors` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vigil.domain.alert import Severity
from vigil.domain.rule_evaluation import CompiledExpression, EvaluationError, compile_expression
from vigil.domain.rule_set import RuleAction, RuleVersion

SEVERITY_ORDER = (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
"""Lowest first."""

_RANK = {severity: rank for rank, severity in enumerate(SEVERITY_ORDER)}
_NONE = -1


def severity_rank(severity: Severity) -> int:
    """0 for medium, rising with severity: for comparing severities, which are text."""
    return _RANK[severity]


@dataclass(frozen=True)
class Decision:
    severity: Severity | None
    """The alert's severity, or None for no alert."""
    hits: tuple[str, ...] = ()
    suppressed_by: str | None = None
    errors: tuple[tuple[str, str], ...] = ()
    """(rule name, reason) for each rule that could not be evaluated on this record."""

    @property
    def alerts(self) -> bool:
        return self.severity is not None


@dataclass(frozen=True)
class CompiledRule:
    name: str
    action: RuleAction
    severity: Severity | None
    expression: CompiledExpression


@dataclass(frozen=True)
class CompiledRules:
    """A rule version compiled once, to decide on many records."""

    version: int
    rules: tuple[CompiledRule, ...]
    names: frozenset[str]
    """Every dotted name the rules read."""

    def decide(self, context: Mapping[str, object], model_severity: Severity | None) -> Decision:
        hits: list[str] = []
        errors: list[tuple[str, str]] = []
        suppressed_by: str | None = None
        graded = raised = _NONE
        for rule in self.rules:
            fired = rule.expression.fires(context)
            if fired is False:
                continue
            if isinstance(fired, EvaluationError):
                errors.append((rule.name, fired.reason))
                continue
            hits.append(rule.name)
            if rule.action is RuleAction.SUPPRESS:
                suppressed_by = suppressed_by or rule.name
            elif rule.action is RuleAction.GRADE:
                graded = max(graded, _rank_of(rule.severity))
            else:
                raised = max(raised, _rank_of(rule.severity))
        rank = _NONE if suppressed_by else _settled(_rank_of(model_severity), graded, raised)
        return Decision(
            SEVERITY_ORDER[rank] if rank != _NONE else None,
            tuple(hits),
            suppressed_by,
            tuple(errors),
        )


def _rank_of(severity: Severity | None) -> int:
    return _NONE if severity is None else _RANK[severity]


def _settled(model: int, graded: int, raised: int) -> int:
    if model != _NONE and graded != _NONE:
        model = graded
    return max(model, raised)


def compile_rules(version: RuleVersion) -> CompiledRules:
    """Compiles each rule once; a version's expressions parsed when it was drafted."""
    rules = tuple(
        CompiledRule(
            rule.name,
            rule.action,
            rule.severity,
            compile_expression(rule.expression, f"rules[{index}].expression"),
        )
        for index, rule in enumerate(version.rules)
    )
    names = frozenset().union(*(rule.expression.names for rule in rules))
    return CompiledRules(version.number, rules, names)
