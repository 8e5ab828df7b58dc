"""Whether an indicator's actual met its target in a year: the rule, written once, in words and codes.

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

from services.common.models.achievement import ActualKind, MissingRule, RatioComparison
from services.common.models.registry import DesiredDirection, MeasurementFrequency, TargetKind, TargetSource


class Status(StrEnum):
    achieved = "achieved"
    not_achieved = "not_achieved"
    not_evaluable = "not_evaluable"
    ambiguous = "ambiguous"


class Reason(StrEnum):
    """Why a target (or a year) got its outcome: stable codes; the words are in `explanation`."""

    compared = "compared"  # the actual was compared with the target under the direction
    not_a_target_year = "not_a_target_year"  # the rule's target years leave this year out
    not_a_measurement_year = "not_a_measurement_year"  # a biennial indicator, in a year it is not measured
    no_target_printed = "no_target_printed"  # a dash or an empty cell (or nothing) for the year
    no_actual = "no_actual"  # no accepted actual; the missing-value rule decides
    no_data = "no_data"  # the accepted actual is "no data" (with its reason); the missing-value rule decides
    hold_without_tolerance = "hold_without_tolerance"  # "hold" with no tolerance set: never silently achieved
    ratio_consequents_differ = "ratio_consequents_differ"  # antecedent comparison of a:b and c:d with b != d


SOURCE_WORDS = {TargetSource.section6: "section 6", TargetSource.action_plan_header: "the action plan"}
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
    explanation: str


@dataclass
class YearOutcome:
    year: int
    status: Status
    reason: Reason
    targets: list[TargetOutcome] = field(default_factory=list)
    explanation: str = ""
    two_targets: bool = False


def fmt(value: Decimal | None) -> str:
    """A decimal as plain text without trailing zeros: 19.0000 → 19, 2.2000 → 2.2."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def actual_text(actual: Actual) -> str:
    if actual.kind is ActualKind.ratio:
        return f"{fmt(actual.value)}:{fmt(actual.consequent)}"
    if actual.kind is ActualKind.no_data:
        return "no data"
    return fmt(actual.value)


def target_text(t: Printed) -> str:
    if t.kind is TargetKind.ratio:
        return f"{fmt(t.value)}:{fmt(t.consequent)}"
    return fmt(t.value)


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


_OP = {DesiredDirection.increase: ">=", DesiredDirection.decrease: "<="}


def compare(target: Printed, actual: Actual, rule: Rule) -> tuple[Status, Reason, str]:
    """One numeric target against a numeric actual under the rule."""
    shown_t, shown_a = target_text(target), actual_text(actual)
    ta, tb = _pair(target.kind, target.value, target.consequent)
    aa, ab = _pair(actual.kind, actual.value, actual.consequent)
    ratio = target.kind is TargetKind.ratio or actual.kind is ActualKind.ratio
    how = ""
    if ratio and rule.ratio_comparison is RatioComparison.antecedent:
        if tb != ab:
            return (
                Status.not_evaluable,
                Reason.ratio_consequents_differ,
                f"the actual {shown_a} and the target {shown_t} have different second terms; the rule compares "
                "ratios by their first term only",
            )
        # Same consequent: compare the antecedents.
        left, right = aa, ta
        how = " (ratios compared by their first term)"
    else:
        # a/b against c/d, exactly: a*d against c*b (b, d > 0).
        left, right = aa * tb, ta * ab
        if ratio:
            how = " (ratios compared as quotients a/b)"
    if rule.direction is DesiredDirection.hold:
        if rule.tolerance is None:
            return (
                Status.not_evaluable,
                Reason.hold_without_tolerance,
                f"the indicator is to be held at {shown_t}; no tolerance is set (the document gives none), so the "
                f"actual {shown_a} is not judged",
            )
        gap = abs(aa / ab - ta / tb)
        met = gap <= rule.tolerance
        return (
            Status.achieved if met else Status.not_achieved,
            Reason.compared,
            f"hold: the actual {shown_a} lies {fmt(gap)} from the target {shown_t}, "
            f"{'within' if met else 'beyond'} the tolerance {fmt(rule.tolerance)}{how}",
        )
    met = left >= right if rule.direction is DesiredDirection.increase else left <= right
    op = _OP[rule.direction]
    return (
        Status.achieved if met else Status.not_achieved,
        Reason.compared,
        f"{rule.direction.value}: actual {shown_a} {op} target {shown_t} is {'true' if met else 'false'}{how}",
    )


def _missing(rule: Rule, actual: Actual | None) -> tuple[Status, Reason, str]:
    status = Status.not_evaluable if rule.missing_rule is MissingRule.not_evaluable else Status.not_achieved
    if actual is None:
        what, reason = "no accepted actual", Reason.no_actual
    else:
        what, reason = f"the accepted actual is 'no data' ({actual.no_data_reason})", Reason.no_data
    return status, reason, f"{what}; the missing-value rule ({rule.missing_rule.value}) makes it {status.value}"


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
    rule_words = f"rule v{rule.version}"
    targets = distinct_targets(printed)
    printed_words = (
        "; ".join(f"{SOURCE_WORDS[p.source]} prints {p.printed or 'an empty cell'}" for p in printed)
        or "nothing is printed"
    )
    if year not in target_years and (rule.target_years is not None or frequency is MeasurementFrequency.biennial):
        reason = Reason.not_a_target_year if rule.target_years is not None else Reason.not_a_measurement_year
        years = ", ".join(map(str, target_years)) or "none"
        why = "measured once in two years" if reason is Reason.not_a_measurement_year else "the rule's target years"
        return YearOutcome(
            year,
            Status.not_evaluable,
            reason,
            explanation=f"{year} is not a target year ({why}: {years}; {printed_words}); {rule_words}",
        )
    if not targets:
        return YearOutcome(
            year,
            Status.not_evaluable,
            Reason.no_target_printed,
            explanation=f"{year}: no target figure ({printed_words}); {rule_words}",
        )
    outcomes: list[TargetOutcome] = []
    for sources, t in targets:
        if actual is None or actual.kind is ActualKind.no_data:
            status, reason, words = _missing(rule, actual)
        else:
            status, reason, words = compare(t, actual, rule)
        where = " and ".join(SOURCE_WORDS[s] for s in sources)
        outcomes.append(
            TargetOutcome(
                sources=sources,
                printed=t.printed,
                kind=t.kind,
                value=t.value,
                consequent=t.consequent,
                status=status,
                reason=reason,
                explanation=f"against {target_text(t)} ({where}): {words}",
            )
        )
    statuses = {o.status for o in outcomes}
    two = len(outcomes) > 1
    if len(statuses) == 1:
        status = outcomes[0].status
        reason = outcomes[0].reason if len({o.reason for o in outcomes}) == 1 else Reason.compared
    else:
        status, reason = Status.ambiguous, Reason.compared
    head = f"{year}: " + (
        f"the document prints two targets ({printed_words}); which holds is not decided here. " if two else ""
    )
    tail = (
        f"; the outcomes differ, so the year is {status.value}" if status is Status.ambiguous else f"; {status.value}"
    )
    return YearOutcome(
        year,
        status,
        reason,
        targets=outcomes,
        explanation=head + "; ".join(o.explanation for o in outcomes) + tail + f" ({rule_words})",
        two_targets=two,
    )


class Trend(StrEnum):
    improving = "improving"
    worsening = "worsening"
    steady = "steady"
    changing = "changing"  # a "hold" indicator whose figure moved
    insufficient_data = "insufficient_data"


def trend(points: list[tuple[int, Actual]], direction: DesiredDirection) -> tuple[Trend, str]:
    """The last change of the accepted numeric actuals (as quotients), read against the desired direction."""
    numeric = [(y, a) for y, a in sorted(points, key=lambda p: p[0]) if a.kind is not ActualKind.no_data]
    if len(numeric) < 2:
        return Trend.insufficient_data, "fewer than two years with an accepted figure"
    (y0, a0), (y1, a1) = numeric[-2], numeric[-1]
    n0, d0 = _pair(a0.kind, a0.value, a0.consequent)
    n1, d1 = _pair(a1.kind, a1.value, a1.consequent)
    change = n1 * d0 - n0 * d1  # sign of a1 - a0 (d0, d1 > 0)
    words = f"{y0}: {actual_text(a0)} → {y1}: {actual_text(a1)}"
    if change == 0:
        return Trend.steady, f"{words}, unchanged"
    if direction is DesiredDirection.hold:
        return Trend.changing, f"{words}, moving while the indicator is to be held"
    better = change > 0 if direction is DesiredDirection.increase else change < 0
    return (Trend.improving if better else Trend.worsening), f"{words}, desired direction {direction.value}"
