"""Whether an indicator's actual met its target in a year: the rule, written once, with its codes and the figures
its words are said from (`words.py` says them in English, Kazakh and Russian).

Inputs are plain values (what the repository read): the printed targets of the year from each source (section 6
and the action plan header), the accepted actual (or none), and the rule in force. The answer names each target,
the comparison made against it and its outcome; where the two sources print different targets the answer keeps
both, and when their outcomes differ the year's status is `ambiguous`: the document itself does not say which holds.

Status, for a year:
* `achieved` / `not_achieved`: every target printed for the year gives that outcome;
* `ambiguous`: the targets printed for the year give different outcomes;
* `not_evaluable`: the year carries no target (not one of the rule's target years, or a dash or an empty cell), the
  value is missing and the missing-value rule says so, a "hold" indicator has no tolerance yet, or two ratios
  cannot be compared by their antecedents.

The comparisons: increase, achieved when actual >= target; decrease, when actual <= target; hold, when
|actual - target| <= tolerance. Ratios: `quotient` compares a/b (a plain number n counts as n:1), exactly, by
cross-multiplication; `antecedent` compares a alone, only when both consequents are equal.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from services.api.achievement.words import Join, Message, Param, Ratio, Term, render
from services.common.models.achievement import ActualKind, MissingRule, RatioComparison
from services.common.models.registry import DesiredDirection, MeasurementFrequency, TargetKind, TargetSource


class Status(StrEnum):
    achieved = "achieved"
    not_achieved = "not_achieved"
    not_evaluable = "not_evaluable"
    ambiguous = "ambiguous"


class Reason(StrEnum):
    """Why a target (or a year) got its outcome: stable codes; the words, in English, Kazakh and Russian, are the
    catalogue's (`words.py`), keyed by these codes."""

    compared = "compared"  # the actual was compared with the target under the direction
    not_a_target_year = "not_a_target_year"  # the rule's target years leave this year out
    not_a_measurement_year = "not_a_measurement_year"  # a biennial indicator, in a year it is not measured
    no_target_printed = "no_target_printed"  # a dash or an empty cell (or nothing) for the year
    no_actual = "no_actual"  # no accepted actual; the missing-value rule decides
    no_data = "no_data"  # the accepted actual is "no data" (with its reason); the missing-value rule decides
    hold_without_tolerance = "hold_without_tolerance"  # "hold" with no tolerance set: never silently achieved
    ratio_consequents_differ = "ratio_consequents_differ"  # antecedent comparison of a:b and c:d with b != d


NUMERIC_KINDS = (TargetKind.value, TargetKind.ratio)


@dataclass(frozen=True)
class Printed:
    """One source's target for a year, as loaded (`kind` value, ratio, dash or empty)."""

    source: TargetSource
    kind: TargetKind
    value: Decimal | None
    consequent: Decimal | None
    printed: str | None


@dataclass(frozen=True)
class Actual:
    kind: ActualKind
    value: Decimal | None
    consequent: Decimal | None
    no_data_reason: str | None = None


@dataclass(frozen=True)
class Rule:
    version: int
    direction: DesiredDirection
    tolerance: Decimal | None
    ratio_comparison: RatioComparison
    target_years: list[int] | None
    missing_rule: MissingRule


@dataclass
class TargetOutcome:
    sources: list[TargetSource]
    printed: str | None
    kind: TargetKind
    value: Decimal | None
    consequent: Decimal | None
    status: Status
    reason: Reason
    words: Message

    @property
    def explanation(self) -> str:
        return render(self.words, "en")


@dataclass
class YearOutcome:
    year: int
    status: Status
    reason: Reason
    words: Message
    targets: list[TargetOutcome] = field(default_factory=list)
    two_targets: bool = False

    @property
    def explanation(self) -> str:
        return render(self.words, "en")


def actual_param(actual: Actual) -> Param:
    """The actual as a placeholder's value: a figure, a ratio, or the term "no data"."""
    if actual.kind is ActualKind.ratio:
        assert actual.value is not None and actual.consequent is not None
        return Ratio(actual.value, actual.consequent)
    if actual.kind is ActualKind.no_data or actual.value is None:
        return Term("no_data")
    return actual.value


def target_param(t: Printed) -> Param:
    assert t.value is not None
    if t.kind is TargetKind.ratio:
        assert t.consequent is not None
        return Ratio(t.value, t.consequent)
    return t.value


def document_target_years(targets: dict[int, list[Printed]]) -> list[int]:
    """The years the document prints a number or a ratio for, in either source: the default target years."""
    return sorted(year for year, ts in targets.items() if any(t.kind in NUMERIC_KINDS for t in ts))


def distinct_targets(printed: list[Printed]) -> list[tuple[list[TargetSource], Printed]]:
    """The numeric targets of a year, one per distinct figure, each with the sources that print it."""
    out: list[tuple[list[TargetSource], Printed]] = []
    for t in sorted(printed, key=lambda p: list(TargetSource).index(p.source)):
        if t.kind not in NUMERIC_KINDS:
            continue
        for sources, seen in out:
            if (seen.kind, seen.value, seen.consequent) == (t.kind, t.value, t.consequent):
                sources.append(t.source)
                break
        else:
            out.append(([t.source], t))
    return out


def _pair(kind: TargetKind | ActualKind, value: Decimal | None, consequent: Decimal | None) -> tuple[Decimal, Decimal]:
    assert value is not None
    if kind in (TargetKind.ratio, ActualKind.ratio):
        assert consequent is not None
        return value, consequent
    return value, Decimal(1)


def compare(target: Printed, actual: Actual, rule: Rule) -> tuple[Status, Reason, Message]:
    """One numeric target against a numeric actual under the rule."""
    figures: dict[str, Param] = {"target": target_param(target), "actual": actual_param(actual)}
    ta, tb = _pair(target.kind, target.value, target.consequent)
    aa, ab = _pair(actual.kind, actual.value, actual.consequent)
    ratio = target.kind is TargetKind.ratio or actual.kind is ActualKind.ratio
    how = Message("ratio.none")
    if ratio and rule.ratio_comparison is RatioComparison.antecedent:
        if tb != ab:
            return Status.not_evaluable, Reason.ratio_consequents_differ, Message("ratio_consequents_differ", figures)
        # Same consequent: compare the antecedents.
        left, right = aa, ta
        how = Message("ratio.antecedent")
    else:
        # a/b against c/d, exactly: a*d against c*b (b, d > 0).
        left, right = aa * tb, ta * ab
        if ratio:
            how = Message("ratio.quotient")
    if rule.direction is DesiredDirection.hold:
        if rule.tolerance is None:
            return Status.not_evaluable, Reason.hold_without_tolerance, Message("hold_without_tolerance", figures)
        gap = abs(aa / ab - ta / tb)
        met = gap <= rule.tolerance
        words = Message(
            f"compared.hold.{'met' if met else 'missed'}",
            {**figures, "gap": gap, "tolerance": rule.tolerance, "how": how},
        )
        return Status.achieved if met else Status.not_achieved, Reason.compared, words
    met = left >= right if rule.direction is DesiredDirection.increase else left <= right
    words = Message(f"compared.{rule.direction.value}.{'met' if met else 'missed'}", {**figures, "how": how})
    return Status.achieved if met else Status.not_achieved, Reason.compared, words


def _missing(rule: Rule, actual: Actual | None) -> tuple[Status, Reason, Message]:
    status = Status.not_evaluable if rule.missing_rule is MissingRule.not_evaluable else Status.not_achieved
    params: dict[str, Param] = {"rule": Term(rule.missing_rule.value), "status": Term(status.value)}
    if actual is None:
        return status, Reason.no_actual, Message("no_actual", params)
    return status, Reason.no_data, Message("no_data", {**params, "no_data_reason": actual.no_data_reason or ""})


def _printed_words(printed: list[Printed]) -> Param:
    if not printed:
        return Message("printed.nothing")
    return Join(
        [
            Message("printed.figure", {"source": Term(p.source.value), "printed": p.printed})
            if p.printed
            else Message("printed.empty", {"source": Term(p.source.value)})
            for p in printed
        ],
        "semicolon",
    )


def evaluate(
    year: int,
    printed: list[Printed],
    actual: Actual | None,
    rule: Rule,
    target_years: list[int],
    frequency: MeasurementFrequency,
) -> YearOutcome:
    """The year's outcome: `printed` are the year's targets from each source, `target_years` the years that carry
    a target under the rule (its own list, or the document's)."""
    targets = distinct_targets(printed)
    about: dict[str, Param] = {"year": year, "version": rule.version, "printed": _printed_words(printed)}
    if year not in target_years and (rule.target_years is not None or frequency is MeasurementFrequency.biennial):
        reason = Reason.not_a_target_year if rule.target_years is not None else Reason.not_a_measurement_year
        years: Param = Join(list(target_years), "comma") if target_years else Term("none")
        return YearOutcome(year, Status.not_evaluable, reason, Message(reason.value, {**about, "years": years}))
    if not targets:
        return YearOutcome(
            year, Status.not_evaluable, Reason.no_target_printed, Message(Reason.no_target_printed.value, about)
        )
    outcomes: list[TargetOutcome] = []
    for sources, t in targets:
        if actual is None or actual.kind is ActualKind.no_data:
            status, reason, words = _missing(rule, actual)
        else:
            status, reason, words = compare(t, actual, rule)
        where = Join([Term(s.value) for s in sources], "and")
        outcomes.append(
            TargetOutcome(
                sources=sources,
                printed=t.printed,
                kind=t.kind,
                value=t.value,
                consequent=t.consequent,
                status=status,
                reason=reason,
                words=Message(
                    "target",
                    {"target": target_param(t), "sources": where, "words": words},
                ),
            )
        )
    statuses = {o.status for o in outcomes}
    two = len(outcomes) > 1
    if len(statuses) == 1:
        status = outcomes[0].status
        reason = outcomes[0].reason if len({o.reason for o in outcomes}) == 1 else Reason.compared
    else:
        status, reason = Status.ambiguous, Reason.compared
    words = Message(
        "year.ambiguous" if status is Status.ambiguous else "year.judged",
        {
            **about,
            "two": Message("year.two_targets", about) if two else Message("year.one_target"),
            "targets": Join([o.words for o in outcomes], "semicolon"),
            "status": Term(status.value),
        },
    )
    return YearOutcome(year, status, reason, words, targets=outcomes, two_targets=two)


class Trend(StrEnum):
    improving = "improving"
    worsening = "worsening"
    steady = "steady"
    changing = "changing"  # a "hold" indicator whose figure moved
    insufficient_data = "insufficient_data"


def trend(points: list[tuple[int, Actual]], direction: DesiredDirection) -> tuple[Trend, Message]:
    """The last change of the accepted numeric actuals (as quotients), read against the desired direction."""
    numeric = [(y, a) for y, a in sorted(points, key=lambda p: p[0]) if a.kind is not ActualKind.no_data]
    if len(numeric) < 2:
        return Trend.insufficient_data, Message(Trend.insufficient_data.value)
    (y0, a0), (y1, a1) = numeric[-2], numeric[-1]
    n0, d0 = _pair(a0.kind, a0.value, a0.consequent)
    n1, d1 = _pair(a1.kind, a1.value, a1.consequent)
    change = n1 * d0 - n0 * d1  # sign of a1 - a0 (d0, d1 > 0)
    if change == 0:
        code = Trend.steady
    elif direction is DesiredDirection.hold:
        code = Trend.changing
    else:
        better = change > 0 if direction is DesiredDirection.increase else change < 0
        code = Trend.improving if better else Trend.worsening
    params: dict[str, Param] = {
        "y0": y0,
        "a0": actual_param(a0),
        "y1": y1,
        "a1": actual_param(a1),
        "direction": Term(direction.value),
    }
    return code, Message(code.value, params)
