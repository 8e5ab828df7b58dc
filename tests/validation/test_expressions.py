"""The rules' expression language and the pure evaluator: what it refuses, and exact answers in both languages."""

import json
from decimal import Decimal

import pytest

from services.api.validation.expressions import MAX_DEPTH, ExpressionError, Undefined, matches, parse
from services.api.validation.expressions import evaluate as value_of
from services.api.validation.rules import (
    Importance,
    MissingValueStrategy,
    Operator,
    RuleInvalid,
    Scope,
    blocking,
    compile_rule,
    evaluate,
    known_in,
    number_text,
    violation_errors,
)
from services.common.settings import REPO_ROOT

D = Decimal
REPORT = known_in(Scope.report)


def value(text: str, figures: dict[str, Decimal | None] | None = None, scope: Scope = Scope.report) -> Decimal:
    return value_of(parse(text, known_in(scope)), figures or {})


def refused(text: str, scope: Scope = Scope.report) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(text, known_in(scope))
    return caught.value


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("spent.total.__class__", 0, "unknown figure"),
        ("().__class__", 2, "unexpected character '.'"),
        ("spent.total.real", 0, "unknown figure"),
        ("__import__('os')", 0, "unexpected character '_'"),
        ("open(1)", 0, "unknown function 'open'"),
        ("eval(1)", 0, "unknown function 'eval'"),
        ("spent.total ** 99999999", 13, "no exponent"),
        ("9 ** 9 ** 9", 3, "no exponent"),
        ("1e999999", 1, "unexpected 'e999999'"),
        ("1" * 31, 0, "more than 30 digits"),
        ("spent.total[0]", 11, "unexpected character '['"),
        ("'text'", 0, "unexpected character"),
        ("spent.total < 1", 12, "unexpected character '<'"),
        ("lambda: 1", 6, "unexpected character ':'"),
        ("abs(1, 2)", 0, "abs takes one argument"),
        ("min(1)", 0, "min takes two arguments or more"),
        ("sum(spent.total)", 4, "sum takes one wildcard figure"),
        ("spent.*", 0, "may only be summed"),
        ("(1 + 2", 6, "expected ')', found end of the expression"),
        ("1 +", 3, "unexpected end of the expression"),
        ("", 0, "empty expression"),
        ("spent", 0, "unknown figure 'spent'"),  # bound per source only
        ("indicator.0.actual", 0, "unknown figure"),
    ],
)
def test_refused_with_the_position(text: str, position: int, words: str) -> None:
    error = refused(text)
    assert error.position == position, str(error)
    assert words in error.message, str(error)


def test_nesting_and_length_are_bounded() -> None:
    deep = "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1)
    assert "nested deeper than 32 levels" in refused(deep).message
    assert refused("-" * 100 + "1").position == MAX_DEPTH
    assert "nested deeper" in refused("abs(" * 40 + "1" + ")" * 40).message
    just = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert value(just) == 1
    assert "longer than 2000" in refused("1+" * 1001 + "1").message


def test_decimal_arithmetic_is_exact() -> None:
    assert value("0.1 + 0.2") == D("0.3")
    assert value("0.1 + 0.2 - 0.3") == 0
    assert value("spent.total * 3 / 3", {"spent.total": D("1234567.891")}) == D("1234567.891")
    assert value("1 / 3 * 3") == D("0.9999999999999999999999999999999999")  # 34 digits, as documented
    assert value("-(2 - 5) * -1") == D("-3")
    assert value("abs(0 - 7.5) + min(3, 1, 2) + max(3, 1, 2)") == D("11.5")
    with pytest.raises(Undefined):
        value("1 / (spent.total - spent.total)", {"spent.total": D(5)})


def test_sum_over_a_wildcard_leaves_the_total_out() -> None:
    figures: dict[str, Decimal | None] = {
        "spent.republican_budget": D("10.5"),
        "spent.local_budget": D("2"),
        "spent.other": None,
        "spent.total": D("12.5"),
        "parts.spent.ppp": D("1"),
    }
    assert matches("spent.*", figures) == ["spent.local_budget", "spent.other", "spent.republican_budget"]
    assert value("sum(spent.*)", figures) == D("12.5")
    assert value("sum(spent.*) - spent.total", figures) == 0
    assert value("sum(indicator.*.actual)", {"indicator.3.actual": D(2), "indicator.12.actual": D(3)}) == 5


def _rule(scope: Scope, left: str, op: str, right: str, missing: MissingValueStrategy, **kw: str) -> object:
    return compile_rule(
        code=kw.get("code", "r"),
        scope=scope,
        left=left,
        operator=Operator(op),
        right=right,
        importance=Importance(kw.get("importance", "warning")),
        missing_value_strategy=missing,
        message_kk=kw.get("kk", "{left} / {right}"),
        message_ru=kw.get("ru", "{left} / {right}"),
    )


def test_each_missing_value_strategy() -> None:
    any_ = MissingValueStrategy.skip_if_any_value_missing
    all_ = MissingValueStrategy.skip_if_all_values_missing
    never = MissingValueStrategy.never_skip
    # spent 5 from a source with no plan (planned missing): 5 <= planned?
    figures: dict[str, Decimal | None] = {"spent.ppp": D(5), "planned.ppp": None}
    for strategy, expected in ((any_, 0), (all_, 1), (never, 1)):
        rule = _rule(Scope.report, "spent.ppp", "<=", "planned.ppp", strategy)
        found = evaluate([rule], figures, "kk")  # type: ignore[list-item]
        assert len(found) == expected, strategy
        if expected:
            assert (found[0].left, found[0].right) == (D(5), D(0))  # missing counts as 0
    # Nothing there at all: only never_skip compares (0 >= 1 fails).
    nothing: dict[str, Decimal | None] = {}
    for strategy, expected in ((any_, 0), (all_, 0), (never, 1)):
        rule = _rule(Scope.report, "spent.ppp", ">=", "1", strategy)
        assert len(evaluate([rule], nothing, "ru")) == expected, strategy  # type: ignore[list-item]
    # A division by zero skips the comparison whatever the strategy.
    rule = _rule(Scope.report, "spent.ppp / planned.ppp", "<=", "1", never)
    assert evaluate([rule], figures, "ru") == []  # type: ignore[list-item]


def _default_rules() -> list[object]:
    data = json.loads((REPO_ROOT / "data" / "validation" / "rules.json").read_text(encoding="utf-8"))
    return [
        compile_rule(
            code=r["code"],
            scope=Scope(r["scope"]),
            left=r["left"],
            operator=Operator(r["operator"]),
            right=r["right"],
            importance=Importance(r["importance"]),
            missing_value_strategy=MissingValueStrategy(r["missing_value_strategy"]),
            message_kk=r["message_kk"],
            message_ru=r["message_ru"],
        )
        for r in data["rules"]
    ]


FIGURES: dict[str, Decimal | None] = {
    "spent.republican_budget": D("1250.5"),
    "planned.republican_budget": D("1000"),
    "spent.local_budget": D("40"),
    "planned.local_budget": D("50"),
    "spent.health_insurance": D("3"),  # spent from a source nothing was planned from
    "planned.health_insurance": None,
    "spent.ppp": None,
    "planned.ppp": None,
    "spent.other": None,
    "planned.other": None,
    "spent.total": D("1293.5"),
    "planned.total": D("1050"),
    "parts.spent.total": D("1300"),
    "indicator.3.actual": D("-1"),
    "indicator.3.previous": None,
    "indicator.7.actual": D("16"),
    "indicator.7.previous": D("10"),
    "indicator.7.target": D("12"),
    "indicator.9.actual": D("14.9"),
    "indicator.9.previous": D("10"),
}


def test_the_default_rules_in_kazakh() -> None:
    found = evaluate(_default_rules(), FIGURES, "kk")  # type: ignore[arg-type]
    assert [(v.rule_code, v.source, v.indicator, v.importance.value) for v in found] == [
        ("spent-within-planned", "republican_budget", None, "warning"),
        ("spent-within-planned", "health_insurance", None, "warning"),
        ("co-executors-within-lead", None, None, "blocking"),
        ("actual-not-negative", None, 3, "warning"),
        ("actual-near-previous-year", None, 7, "warning"),
    ]
    assert [v.message for v in found] == [
        "республикалық бюджет: игерілген қаражат (1 250,5 мың теңге) жоспарланған сомадан (1 000 мың теңге) асады.",
        "МӘМС: игерілген қаражат (3 мың теңге) жоспарланған сомадан (0 мың теңге) асады.",
        "Бірлескен орындаушылар игерген қаражат (1 300 мың теңге) жетекші орындаушының жиынтық сомасынан "
        "(1 293,5 мың теңге) асады.",
        "3-индикатордың нақты мәні теріс: -1.",
        "7-индикатордың нақты мәні (16) өткен жылғы мәнінен (10) 50%-дан артық ауытқиды.",
    ]
    assert (found[4].left, found[4].right) == (D(6), D("5.0"))


def test_the_default_rules_in_russian() -> None:
    found = evaluate(_default_rules(), FIGURES, "ru")  # type: ignore[arg-type]
    assert (
        found[0].message
        == "республиканский бюджет: освоено 1 250,5 тыс. тенге, больше запланированного (1 000 тыс. тенге)."
    )
    assert found[2].message == (
        "Соисполнители освоили 1 300 тыс. тенге, больше итога ведущего исполнителя (1 293,5 тыс. тенге)."
    )
    assert found[3].message == "Фактическое значение индикатора 3 отрицательно: -1."
    assert found[4].message == (
        "Фактическое значение индикатора 7 (16) отличается от прошлогоднего (10) более чем на 50%."
    )
    errors = violation_errors(blocking(found))
    assert errors == [
        {
            "field": "rules.co-executors-within-lead",
            "reason": found[2].message,
            "rule_code": "co-executors-within-lead",
            "importance": "blocking",
            "source": None,
            "indicator": None,
            "left": "1300",
            "operator": "<=",
            "right": "1293.5",
        }
    ]
    with pytest.raises(ValueError):
        evaluate(_default_rules(), FIGURES, "en")  # type: ignore[arg-type]


def test_a_report_within_every_rule_has_no_violation() -> None:
    fine: dict[str, Decimal | None] = {
        "spent.republican_budget": D("999.999"),
        "planned.republican_budget": D("1000"),
        "spent.total": D("999.999"),
        "parts.spent.total": D("999.999"),
        "indicator.7.actual": D("15"),
        "indicator.7.previous": D("10"),
    }
    assert evaluate(_default_rules(), fine, "kk") == []  # type: ignore[arg-type]


def test_placeholders_are_looked_up_never_formatted() -> None:
    with pytest.raises(RuleInvalid) as caught:
        _rule(
            Scope.report,
            "spent.total",
            "<=",
            "planned.total",
            MissingValueStrategy.never_skip,
            kk="{0.__class__} {source}",
            ru="{spent.total}",
        )
    assert [(e["field"], e["position"]) for e in caught.value.errors] == [("message_kk", 0), ("message_kk", 14)]
    with pytest.raises(RuleInvalid) as caught:
        _rule(Scope.per_source, "spent +", "<=", "planned.nothing", MissingValueStrategy.never_skip)
    assert [(e["field"], e["position"]) for e in caught.value.errors] == [("left", 7), ("right", 0)]


def test_numbers_are_printed_as_kazakh_and_russian_texts_print_them() -> None:
    assert number_text(D("1234567.500")) == "1 234 567,5"
    assert number_text(D("-1000")) == "-1 000"
    assert number_text(D("1E+3")) == "1 000"
    assert number_text(D("0.050")) == "0,05"
    assert number_text(D("999")) == "999"
    assert number_text(D("-0.000")) == "0"
