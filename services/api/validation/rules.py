"""Validation rules: what a rule is, and the pure evaluator.

    violations = evaluate(rules, figures, "kk")

A rule compares two expressions over a report's figures (`spent.<source>`, `planned.<source>`, `parts.spent.<source>`
and their `.total`; `indicator.<number>.actual|previous|target`) with an operator. Its scope says over what it ranges:

* `report`: once, over the figures by their full names;
* `per_source`: once per funding source, with `spent`, `planned` and `parts_spent` bound to that source's figures;
* `per_indicator`: once per indicator the report names, with `actual`, `previous` and `target` bound to its figures.

Its missing-value strategy (DHIS2's) says what a missing figure (absent, or None) does: `skip_if_any_value_missing`
skips the comparison when any figure it reads is missing, `skip_if_all_values_missing` when all are, `never_skip`
evaluates it with every missing figure as 0. An expression without a value (a division by zero) skips it too.

Each violation is answered in words, in the report's language: the rule's message in Kazakh or Russian with its
placeholders filled: `{left}`, `{right}` (the two sides' values), `{source}` (the funding source's name),
`{indicator}` (the indicator's number) and any figure the rule may read, by its bound or full name (`{spent}`,
`{planned.total}`). Placeholders are looked up in that table, never formatted by Python's `str.format`.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from services.api.validation.expressions import (
    WILDCARD,
    Expression,
    ExpressionError,
    Undefined,
    parse,
    referenced,
)
from services.api.validation.expressions import evaluate as value_of
from services.common.errors import FieldError
from services.common.models.registry import FundingSource

Language = Literal["kk", "ru"]


class Scope(StrEnum):
    report = "report"
    per_source = "per_source"
    per_indicator = "per_indicator"


class Operator(StrEnum):
    lt = "<"
    le = "<="
    eq = "=="
    ne = "!="
    ge = ">="
    gt = ">"


class Importance(StrEnum):
    blocking = "blocking"  # the submission is refused (422, code validation_failed)
    warning = "warning"  # the submission goes through; the violation is answered with it


class MissingValueStrategy(StrEnum):
    skip_if_any_value_missing = "skip_if_any_value_missing"
    skip_if_all_values_missing = "skip_if_all_values_missing"
    never_skip = "never_skip"


SOURCES = tuple(s.value for s in FundingSource)
FIGURE_KINDS = ("actual", "previous", "target")
# Names bound in a scope, and the full figure name each stands for (`{}`: the source or the indicator's number).
BOUND: dict[Scope, dict[str, str]] = {
    Scope.report: {},
    Scope.per_source: {"spent": "spent.{}", "planned": "planned.{}", "parts_spent": "parts.spent.{}"},
    Scope.per_indicator: {kind: "indicator.{}." + kind for kind in FIGURE_KINDS},
}
_MONEY = re.compile(r"^(spent|planned|parts\.spent)\.(" + "|".join((*SOURCES, "total")) + r"|\*)$")
_INDICATOR = re.compile(r"^indicator\.([1-9][0-9]{0,5}|\*)\.(" + "|".join(FIGURE_KINDS) + r")$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_INDICATOR_NUMBER = re.compile(r"^indicator\.([1-9][0-9]{0,5})\.")

SOURCE_NAMES: dict[str, dict[Language, str]] = {
    "republican_budget": {"kk": "республикалық бюджет", "ru": "республиканский бюджет"},
    "local_budget": {"kk": "жергілікті бюджет", "ru": "местный бюджет"},
    "health_insurance": {"kk": "МӘМС", "ru": "ОСМС"},
    "ppp": {"kk": "МЖӘ", "ru": "ГЧП"},
    "other": {"kk": "басқа көздер", "ru": "другие источники"},
}
MISSING = "—"


def is_figure(name: str) -> bool:
    """A figure a report exposes, by its full name (a wildcard segment allowed)."""
    return bool(_MONEY.match(name) or _INDICATOR.match(name))


def known_in(scope: Scope) -> "KnownNames":
    return KnownNames(scope)


@dataclass(frozen=True)
class KnownNames:
    scope: Scope

    def __call__(self, name: str) -> bool:
        return name in BOUND[self.scope] or is_figure(name)


@dataclass(frozen=True)
class Rule:
    """One version of a rule, its expressions parsed: what `evaluate` runs."""

    code: str
    scope: Scope
    left: Expression
    operator: Operator
    right: Expression
    importance: Importance
    missing_value_strategy: MissingValueStrategy
    message_kk: str
    message_ru: str
    rule_id: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class Violation:
    rule_code: str
    rule_id: int | None
    version: int | None
    importance: Importance
    scope: Scope
    # The funding source or the indicator's number the comparison was made for (None for a report's rule).
    source: str | None
    indicator: int | None
    left: Decimal
    operator: Operator
    right: Decimal
    message: str


class RuleInvalid(ValueError):
    """A rule whose text does not hold: every field at fault, with the position where an expression fails."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


def _compile_rule(
    *,
    code: str,
    scope: Scope,
    left: str,
    operator: Operator,
    right: str,
    importance: Importance,
    missing_value_strategy: MissingValueStrategy,
    message_kk: str,
    message_ru: str,
    rule_id: int | None = None,
    version: int | None = None,
) -> Rule:
    """A rule ready to run, or RuleInvalid naming each field at fault (and the position in an expression)."""
    errors: list[FieldError] = []
    sides: dict[str, Expression] = {}
    known = known_in(scope)
    for name, text in (("left", left), ("right", right)):
        try:
            sides[name] = parse(text, known)
        except ExpressionError as exc:
            errors.append(FieldError(name, str(exc), position=exc.position))
    for name, message in (("message_kk", message_kk), ("message_ru", message_ru)):
        for match in _PLACEHOLDER.finditer(message):
            if not _placeholder_known(scope, match.group(1)):
                errors.append(FieldError(name, f"unknown placeholder {match.group()!r}", position=match.start()))
    if errors:
        raise RuleInvalid(errors)
    return Rule(
        code=code,
        scope=scope,
        left=sides["left"],
        operator=operator,
        right=sides["right"],
        importance=importance,
        missing_value_strategy=missing_value_strategy,
        message_kk=message_kk,
        message_ru=message_ru,
        rule_id=rule_id,
        version=version,
    )


# A rule's text compiles to the same rule every time (Rule and its expressions are immutable): each process compiles
# a text once, not once per submission. Keyed by every argument and its type (a str is not taken for the enum member
# it equals, which `is` comparisons would then miss), so an edited rule (a new version) compiles anew; a text that
# does not compile raises each time (exceptions are not cached). Type checkers see the function's own signature.
if TYPE_CHECKING:
    compile_rule = _compile_rule
else:
    compile_rule = lru_cache(maxsize=1024, typed=True)(_compile_rule)


def _placeholder_known(scope: Scope, name: str) -> bool:
    if name in ("left", "right"):
        return True
    if name == "source":
        return scope is Scope.per_source
    if name == "indicator":
        return scope is Scope.per_indicator
    return WILDCARD not in name and known_in(scope)(name)


# ------------------------------------------------------------------------------------------------ evaluation


def evaluate(rules: Iterable[Rule], figures: Mapping[str, Decimal | None], language: Language) -> list[Violation]:
    """Every violation of `rules` by a report's `figures`, its message in `language`, in the rules' order (and the
    sources' order of FundingSource, the indicators' by number). Pure: no database, no clock."""
    if language not in ("kk", "ru"):
        raise ValueError(f"language must be kk or ru, not {language!r}")
    out: list[Violation] = []
    for rule in rules:
        for source, indicator, view in _bindings(rule.scope, figures):
            violation = _check(rule, view, language, source, indicator)
            if violation is not None:
                out.append(violation)
    return out


def blocking(violations: Sequence[Violation]) -> list[Violation]:
    return [v for v in violations if v.importance is Importance.blocking]


def violation_errors(violations: Sequence[Violation]) -> list[FieldError]:
    """Violations as the `errors` of a problem+json answer (`ReviewInvalid(detail, violation_errors(...))`): the field
    `rules.<code>`, the reason the message in the report's language, and the rule, the source or indicator and the two
    sides' values alongside."""
    return [
        FieldError(
            f"rules.{v.rule_code}",
            v.message,
            rule_code=v.rule_code,
            importance=v.importance.value,
            source=v.source,
            indicator=v.indicator,
            left=str(v.left),
            operator=v.operator.value,
            right=str(v.right),
        )
        for v in violations
    ]


def _indicator_numbers(figures: Mapping[str, Decimal | None]) -> list[int]:
    numbers = {int(m.group(1)) for name in figures if (m := _INDICATOR_NUMBER.match(name))}
    return sorted(numbers)


def _bindings(
    scope: Scope, figures: Mapping[str, Decimal | None]
) -> Iterable[tuple[str | None, int | None, Mapping[str, Decimal | None]]]:
    if scope is Scope.report:
        yield None, None, figures
    elif scope is Scope.per_source:
        for source in SOURCES:
            bound = {name: figures.get(full.format(source)) for name, full in BOUND[scope].items()}
            yield source, None, {**figures, **bound}
    else:
        for number in _indicator_numbers(figures):
            bound = {name: figures.get(full.format(number)) for name, full in BOUND[scope].items()}
            yield None, number, {**figures, **bound}


def _check(
    rule: Rule, view: Mapping[str, Decimal | None], language: Language, source: str | None, indicator: int | None
) -> Violation | None:
    names = referenced(rule.left, view) + referenced(rule.right, view)
    missing = [view.get(name) is None for name in names]
    strategy = rule.missing_value_strategy
    if strategy is MissingValueStrategy.skip_if_any_value_missing and any(missing):
        return None
    if strategy is MissingValueStrategy.skip_if_all_values_missing and missing and all(missing):
        return None
    try:
        left = value_of(rule.left, view)
        right = value_of(rule.right, view)
    except Undefined:
        return None
    if _holds(left, rule.operator, right):
        return None
    template = rule.message_kk if language == "kk" else rule.message_ru
    values: dict[str, str] = {"left": number_text(left), "right": number_text(right)}
    if source is not None:
        values["source"] = SOURCE_NAMES[source][language]
    if indicator is not None:
        values["indicator"] = str(indicator)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        figure = view.get(name)
        return MISSING if figure is None else number_text(figure)

    return Violation(
        rule_code=rule.code,
        rule_id=rule.rule_id,
        version=rule.version,
        importance=rule.importance,
        scope=rule.scope,
        source=source,
        indicator=indicator,
        left=left,
        operator=rule.operator,
        right=right,
        message=_PLACEHOLDER.sub(fill, template),
    )


def _holds(left: Decimal, operator: Operator, right: Decimal) -> bool:
    if operator is Operator.lt:
        return left < right
    if operator is Operator.le:
        return left <= right
    if operator is Operator.eq:
        return left == right
    if operator is Operator.ne:
        return left != right
    if operator is Operator.ge:
        return left >= right
    return left > right


def number_text(value: Decimal) -> str:
    """A number as Kazakh and Russian texts print it: digits grouped by threes with a space, a decimal comma, no
    trailing zeros after it (`1234.500` → `1 234,5`)."""
    if value == 0:
        value = Decimal(0)  # never "-0"
    text = format(value.normalize() if value == value.to_integral_value() else value, "f")
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + " ".join(groups) + ("," + fraction if fraction else "")
