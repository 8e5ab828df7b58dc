"""The scoring rules, as pure functions over a criteria version loaded from data.

Nothing the ministry sets by order lives here as a constant: weights, scale levels, the age bands of
innovativeness, the threshold and the combination rule all come from `VersionDef`, which is read from
the `htmc_criteria_version` tables (seed: data/scoring/htmc-criteria-order-129-2025.json).

Exact arithmetic: every score is a `Decimal`. A weighted sum of levels is exact (weights have at most
4 decimals, levels 2, so a sum has at most 6). Only a combined panel score (mean, trimmed mean or a
median of an even count) can need rounding: it is rounded half-up to the version's `score_decimals`.

Age of a technology (innovativeness): whole years completed between its first use in the world and the
as-of date, counted like a person's age: a year is completed on the anniversary date. When only the year
of first use is known, the first use is taken as 1 January of that year. A first use on 29 February
completes its years on 1 March in common years. The bands are data; for Order No. 129 they are
0–4 → 10, 5–10 → 7.5, 11–15 → 5, 16+ → 2.5 (see `AGE_BOUNDARY_NOTE`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from services.common.errors import FieldError, ValidationFailed

AGE_BOUNDARY_NOTE = (
    "Exact boundary ages under Order No. 129 (ages in whole years completed on the as-of date, a year being "
    "completed on the anniversary of the first use; a first use known only by year counts from 1 January). "
    "The printed rows are '5 жылдан аз' (less than 5 years) → 10, '5-10 жылдан астам' (5–10 years) → 7.5, "
    "'10 жылдан астам' (more than 10 years) → 5 and '15 жылдан астам' (more than 15 years) → 2.5. "
    "'Аз' (less than) and 'астам' (more than) are strict comparisons, so: an age of exactly 5 years is not "
    "'less than 5' and scores 7.5, the row that starts at 5; exactly 10 years is not 'more than 10' and "
    "stays at 7.5, the row whose range names 10; exactly 15 years is not 'more than 15' and stays at 5. "
    "The innovativeness level therefore drops on the anniversaries that complete 5, 11 and 16 years. The rows "
    "'more than 10' and 'more than 15' overlap in print; an age over 15 takes the lower level, the row "
    "written for it. The bands are stored with each criteria version and change only with a new version."
)

ONE = Decimal(1)
WEIGHT_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class LevelDef:
    value: Decimal
    position: int
    wording_kk: str = ""
    wording_ru: str | None = None


@dataclass(frozen=True)
class AgeBand:
    min_years: int
    max_years: int | None
    level: Decimal


@dataclass(frozen=True)
class CriterionDef:
    code: str
    weight: Decimal
    levels: tuple[LevelDef, ...]  # by position: highest first
    kind: str = "expert"  # "expert" | "age_bands"
    bands: tuple[AgeBand, ...] = ()
    id: int | None = None
    name_kk: str = ""
    name_ru: str | None = None

    @property
    def derived(self) -> bool:
        return self.kind == "age_bands"

    def level_values(self) -> list[Decimal]:
        return [lv.value for lv in self.levels]

    def has_level(self, value: Decimal) -> bool:
        return any(lv.value == value for lv in self.levels)

    def level_for_age(self, age_years: int) -> Decimal:
        for band in self.bands:
            if age_years >= band.min_years and (band.max_years is None or age_years <= band.max_years):
                return band.level
        raise ValidationFailed(
            f"criterion {self.code}: no age band holds {age_years} years",
            [FieldError("age_years", f"no band of {self.code} holds {age_years}")],
        )


@dataclass(frozen=True)
class VersionDef:
    criteria: tuple[CriterionDef, ...]
    threshold: Decimal | None = None
    combination_rule: str | None = None
    trim_fraction: Decimal | None = None
    score_decimals: int = 4
    max_score: Decimal = Decimal(10)
    id: int | None = None
    code: str = ""
    # The date whose decision rule (threshold, combination rule) this holds; None: the latest one.
    rule_as_of: date | None = None
    _by_code: dict[str, CriterionDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_code.update({c.code: c for c in self.criteria})

    def criterion(self, code: str) -> CriterionDef | None:
        return self._by_code.get(code)

    def with_weights(self, weights: Mapping[str, Decimal]) -> VersionDef:
        crits = tuple(replace(c, weight=weights.get(c.code, c.weight)) for c in self.criteria)
        return replace(self, criteria=crits, _by_code={})


# ---------------------------------------------------------------------------------------------- validation


def validate_criteria(
    criteria: Sequence[CriterionDef], max_score: Decimal, prefix: str = "criteria"
) -> list[FieldError]:
    """Every reason a criteria set is unusable, each naming its field. Empty = valid."""
    errors: list[FieldError] = []
    if not criteria:
        return [FieldError(prefix, "a criteria set needs at least one criterion")]
    codes = [c.code for c in criteria]
    for i, c in enumerate(criteria):
        if codes.count(c.code) > 1:
            errors.append(FieldError(f"{prefix}[{i}].code", f"criterion code {c.code!r} appears twice"))
        if not ONE >= c.weight >= 0:
            errors.append(FieldError(f"{prefix}[{i}].weight", "a weight must be between 0 and 1"))
        if c.weight != c.weight.quantize(WEIGHT_STEP, rounding=ROUND_FLOOR):
            errors.append(FieldError(f"{prefix}[{i}].weight", "a weight has at most 4 decimal places"))
        errors.extend(_validate_scale(c, max_score, f"{prefix}[{i}]"))
    total = sum((c.weight for c in criteria), Decimal(0))
    if total != ONE:
        errors.append(FieldError(f"{prefix}[].weight", f"weights must sum to 1 exactly; they sum to {fmt(total)}"))
    return errors


def _validate_scale(c: CriterionDef, max_score: Decimal, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not c.levels:
        return [FieldError(f"{where}.levels", "a criterion needs at least one scale level")]
    values = [lv.value for lv in c.levels]
    for j, v in enumerate(values):
        if not max_score >= v > 0:
            errors.append(FieldError(f"{where}.levels[{j}].value", f"a level must be in (0, {fmt(max_score)}]"))
        if v != v.quantize(Decimal("0.01"), rounding=ROUND_FLOOR):
            errors.append(FieldError(f"{where}.levels[{j}].value", "a level has at most 2 decimal places"))
        if j and not v < values[j - 1]:
            errors.append(
                FieldError(
                    f"{where}.levels[{j}].value",
                    f"the scale is not monotone: level {fmt(v)} must be below the one before it, {fmt(values[j - 1])}",
                )
            )
    if c.kind == "age_bands":
        errors.extend(_validate_bands(c, where))
    elif c.kind != "expert":
        errors.append(FieldError(f"{where}.rule_kind", f"unknown rule kind {c.kind!r}"))
    return errors


def _validate_bands(c: CriterionDef, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not c.bands:
        return [FieldError(f"{where}.rule.bands", "an age-band criterion needs bands")]
    expected_min = 0
    previous: Decimal | None = None
    for k, band in enumerate(c.bands):
        here = f"{where}.rule.bands[{k}]"
        if band.min_years != expected_min:
            errors.append(
                FieldError(f"{here}.min_years", f"bands must be contiguous from 0 years: expected {expected_min}")
            )
        if band.max_years is not None and band.max_years < band.min_years:
            errors.append(FieldError(f"{here}.max_years", "max_years is below min_years"))
        if band.max_years is None and k != len(c.bands) - 1:
            errors.append(FieldError(f"{here}.max_years", "only the last band may be open-ended"))
        if not c.has_level(band.level):
            errors.append(FieldError(f"{here}.level", f"{fmt(band.level)} is not a level of this criterion"))
        if previous is not None and band.level > previous:
            errors.append(
                FieldError(
                    f"{here}.level",
                    "the scale is not monotone: an older technology may not score higher than a newer one",
                )
            )
        previous = band.level
        expected_min = (band.max_years if band.max_years is not None else band.min_years) + 1
    if c.bands[-1].max_years is not None:
        errors.append(
            FieldError(f"{where}.rule.bands[{len(c.bands) - 1}].max_years", "the last band must be open-ended (null)")
        )
    return errors


def validate_decision_rule(
    rule: str | None, trim_fraction: Decimal | None, threshold: Decimal | None, max_score: Decimal
) -> list[FieldError]:
    errors: list[FieldError] = []
    if threshold is not None and not max_score >= threshold >= 0:
        errors.append(FieldError("threshold", f"the threshold must be between 0 and {fmt(max_score)}"))
    if rule not in (None, "mean", "median", "trimmed_mean"):
        errors.append(FieldError("combination_rule", "must be mean, median or trimmed_mean"))
    if rule == "trimmed_mean" and (trim_fraction is None or not Decimal("0.5") > trim_fraction > 0):
        errors.append(FieldError("trim_fraction", "a trimmed mean needs a trim fraction in (0, 0.5)"))
    elif trim_fraction is not None and trim_fraction != trim_fraction.quantize(Decimal("0.001"), rounding=ROUND_FLOOR):
        errors.append(FieldError("trim_fraction", "a trim fraction has at most 3 decimal places"))
    if rule != "trimmed_mean" and trim_fraction is not None:
        errors.append(FieldError("trim_fraction", "a trim fraction applies only to trimmed_mean"))
    return errors


# ---------------------------------------------------------------------------------------------- age


def first_use_date(year: int, on: date | None) -> date:
    """The first use in the world: the exact date when known, else 1 January of the year."""
    return on if on is not None else date(year, 1, 1)


def whole_years(start: date, as_of: date, field: str = "as_of") -> int:
    """Whole years completed from `start` to `as_of` (a year completes on the anniversary). An as-of date before
    `start` is refused, naming `field` (the request's name for the as-of date)."""
    if as_of < start:
        raise ValidationFailed(
            f"the as-of date {as_of} is before the technology's first use in the world {start}",
            [FieldError(field, f"before the first use in the world ({start})")],
        )
    years = as_of.year - start.year
    if (as_of.month, as_of.day) < (start.month, start.day):
        years -= 1
    return years


# ---------------------------------------------------------------------------------------------- scoring


def fmt(value: Decimal) -> str:
    """A decimal as plain text without trailing zeros: 0.750000 → '0.75', 10.00 → '10'."""
    text = format(value.normalize(), "f")
    return text


def resolve_levels(
    version: VersionDef, chosen: Mapping[str, Decimal], age_years: int | None, field_prefix: str = "levels"
) -> dict[str, Decimal]:
    """The level of every criterion: derived ones from the age, the others from `chosen`.

    Raises ValidationFailed naming each missing, unknown or inconsistent criterion or level.
    """
    errors: list[FieldError] = []
    out: dict[str, Decimal] = {}
    for code in chosen:
        if version.criterion(code) is None:
            errors.append(
                FieldError(
                    f"{field_prefix}.{code}", f"unknown criterion {code!r} in version {version.code or version.id}"
                )
            )
    for c in version.criteria:
        given = chosen.get(c.code)
        if c.derived:
            if age_years is None:
                errors.append(FieldError("first_used_world_year", f"{c.code} needs the technology's age"))
                continue
            level = c.level_for_age(age_years)
            if given is not None and given != level:
                errors.append(
                    FieldError(
                        f"{field_prefix}.{c.code}",
                        f"{c.code} is derived from the age ({age_years} whole years → "
                        f"{fmt(level)}); {fmt(given)} contradicts it",
                    )
                )
            out[c.code] = level
            continue
        if given is None:
            errors.append(FieldError(f"{field_prefix}.{c.code}", f"a level for {c.code} is required"))
            continue
        if not c.has_level(given):
            errors.append(
                FieldError(
                    f"{field_prefix}.{c.code}",
                    f"unknown level {fmt(given)}; the scale of {c.code} is "
                    + ", ".join(fmt(v) for v in c.level_values()),
                )
            )
            continue
        out[c.code] = given
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5]), errors)
    return out


def weighted_total(version: VersionDef, levels: Mapping[str, Decimal]) -> Decimal:
    """Σ weight × level, exact."""
    return sum((c.weight * levels[c.code] for c in version.criteria), Decimal(0))


def combine(totals: Sequence[Decimal], rule: str, trim_fraction: Decimal | None, decimals: int) -> Decimal:
    """Combine the experts' totals by the version's rule, rounded half-up to `decimals` places."""
    if not totals:
        raise ValidationFailed("no expert scores to combine", [FieldError("expert_scores", "none submitted")])
    values = sorted(totals)
    if rule == "median":
        result = statistics.median(values)
    elif rule == "trimmed_mean":
        assert trim_fraction is not None
        k = int((trim_fraction * len(values)).to_integral_value(rounding=ROUND_FLOOR))
        kept = values[k : len(values) - k] or values
        result = sum(kept, Decimal(0)) / len(kept)
    else:
        result = sum(values, Decimal(0)) / len(values)
    return result.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def combine_micro(totals: Sequence[int], rule: str, trim_fraction: Decimal | None, decimals: int) -> Decimal:
    """`combine` over totals given as whole millionths (Σ weight × level × 10⁶, exact integers): the same rule,
    the same half-up rounding to `decimals` places, the same `Decimal` (value and exponent), in integer
    arithmetic. (`combine` divides with 28 significant digits before rounding; a mean of n totals of 6 decimals
    is never within 10⁻²⁰ of a rounding tie unless it is one, so both round alike.)"""
    if not totals:
        raise ValidationFailed("no expert scores to combine", [FieldError("expert_scores", "none submitted")])
    values = sorted(totals)
    n = len(values)
    if rule == "median":
        mid = n // 2
        num, den = (values[mid], 1) if n % 2 else (values[mid - 1] + values[mid], 2)
    elif rule == "trimmed_mean":
        assert trim_fraction is not None
        k = int((trim_fraction * n).to_integral_value(rounding=ROUND_FLOOR))
        kept = values[k : n - k] or values
        num, den = sum(kept), len(kept)
    else:
        num, den = sum(values), n
    return round_micro(num, den, decimals)


def round_micro(num: int, den: int, decimals: int) -> Decimal:
    """num / (den × 10⁶) rounded half-up (ties away from zero) to `decimals` places, as `Decimal.quantize` gives."""
    if decimals >= 6:
        num *= 10 ** (decimals - 6)
    else:
        den *= 10 ** (6 - decimals)
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    out = Decimal(q).scaleb(-decimals)
    return out.copy_negate() if num < 0 else out


def classify(score: Decimal, threshold: Decimal) -> bool:
    """HTMC when the score reaches the threshold (score ≥ threshold)."""
    return score >= threshold


def why_unclassified(version: VersionDef) -> str | None:
    if version.threshold is None:
        if version.rule_as_of is not None:
            return (
                f"criteria version {version.code or version.id} has no decision threshold in force on "
                f"{version.rule_as_of}: Order No. 129 does not state one, and no administrator's setting applies "
                "on that date; the score is computed but not classified"
            )
        return (
            f"criteria version {version.code or version.id} has no decision threshold: Order No. 129 does "
            "not state one, and an administrator has not set it; the score is computed but not classified"
        )
    return None


# ---------------------------------------------------------------------------------------------- explanation


def contributions(version: VersionDef, levels: Mapping[str, Decimal]) -> list[dict[str, Any]]:
    return [
        {
            "criterion": c.code,
            "name_kk": c.name_kk,
            "level": levels[c.code],
            "weight": c.weight,
            "contribution": c.weight * levels[c.code],
            "derived": c.derived,
        }
        for c in version.criteria
    ]


PanelFn = Callable[[Sequence[Mapping[str, Decimal]], VersionDef], Decimal]


def panel_score(cards: Sequence[Mapping[str, Decimal]], version: VersionDef) -> Decimal:
    totals = [weighted_total(version, card) for card in cards]
    if len(totals) == 1 or version.combination_rule is None:
        return totals[0] if len(totals) == 1 else combine(totals, "mean", None, version.score_decimals)
    return combine(totals, version.combination_rule, version.trim_fraction, version.score_decimals)


def level_flips(version: VersionDef, cards: Sequence[Mapping[str, Decimal]]) -> dict[str, Any]:
    """Single-criterion level changes (the whole panel moving that criterion to one level) that flip the
    decision, and the smallest of them (fewest scale steps, then smallest change of score)."""
    assert version.threshold is not None
    current = panel_score(cards, version)
    included = classify(current, version.threshold)
    flips: list[dict[str, Any]] = []
    for c in version.criteria:
        now = [card[c.code] for card in cards]
        for lv in c.levels:
            if all(v == lv.value for v in now):
                continue
            changed = [{**card, c.code: lv.value} for card in cards]
            score = panel_score(changed, version)
            if classify(score, version.threshold) != included:
                steps = max(abs(lv.position - _position(c, v)) for v in now)
                flips.append(
                    {
                        "criterion": c.code,
                        "from_levels": sorted(set(now), reverse=True),
                        "to_level": lv.value,
                        "steps": steps,
                        "score": score,
                        "score_change": score - current,
                        "derived": c.derived,
                    }
                )
    flips.sort(key=lambda f: (f["steps"], abs(f["score_change"]), f["criterion"]))
    return {"smallest": flips[0] if flips else None, "all": flips}


def _position(c: CriterionDef, value: Decimal) -> int:
    for lv in c.levels:
        if lv.value == value:
            return lv.position
    return 0


def weight_flips(version: VersionDef, cards: Sequence[Mapping[str, Decimal]]) -> list[dict[str, Any]]:
    """For each criterion, the smallest change δ of its weight (others rescaled in proportion so the weights
    still sum to 1) that flips the decision, in steps of 0.0001 (the precision weights are stored with).

    With weight w_i changed to w_i + δ and the others scaled by (1 − w_i − δ)/(1 − w_i), an expert's total
    moves by δ·(s_i − m_i), m_i being the weighted mean level of the other criteria, so the change is linear
    for each expert; the combined panel score is evaluated exactly at each candidate step. The search probes
    1/64 of the admissible range at a time and bisects the first bracket that flips. For one expert or the
    mean the score is monotone in δ and the answer is exact; for a median or trimmed mean of several experts
    (piecewise linear, not necessarily monotone) a flip window narrower than one probe could be missed.
    """
    assert version.threshold is not None
    threshold = version.threshold
    current = panel_score(cards, version)
    included = classify(current, threshold)
    out: list[dict[str, Any]] = []
    for c in version.criteria:
        rest = ONE - c.weight

        def score_at(delta: Decimal, c: CriterionDef = c, rest: Decimal = rest) -> Decimal:
            totals = []
            for card in cards:
                others = sum((o.weight * card[o.code] for o in version.criteria if o.code != c.code), Decimal(0))
                scaled = others * (rest - delta) / rest if rest else Decimal(0)
                totals.append((c.weight + delta) * card[c.code] + scaled)
            if len(totals) == 1:
                return totals[0]
            return combine(totals, version.combination_rule or "mean", version.trim_fraction, version.score_decimals)

        best: Decimal | None = None
        if rest > 0:
            for sign in (1, -1):
                found = _first_flip(score_at, sign, c.weight, threshold, included)
                if found is not None and (best is None or abs(found) < abs(best)):
                    best = found
        out.append(
            {
                "criterion": c.code,
                "weight": c.weight,
                "smallest_change": best,
                "new_weight": None if best is None else c.weight + best,
                "score_at_change": None if best is None else score_at(best),
            }
        )
    return out


def _first_flip(
    score_at: Callable[[Decimal], Decimal], sign: int, weight: Decimal, threshold: Decimal, included: bool
) -> Decimal | None:
    """Smallest multiple of 0.0001 in one direction whose score flips the decision; None if none does."""
    limit = (ONE - weight) if sign > 0 else weight
    steps = int(limit / WEIGHT_STEP)
    if steps == 0:
        return None

    def flips(n: int) -> bool:
        return classify(score_at(WEIGHT_STEP * n * sign), threshold) != included

    # The score is piecewise linear in δ: probe coarsely, then refine the first bracket by bisection.
    probe = max(1, steps // 64)
    prev = 0
    n = probe
    while True:
        n = min(n, steps)
        if flips(n):
            lo, hi = prev, n  # no flip at lo (or lo == 0), flip at hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if flips(mid):
                    hi = mid
                else:
                    lo = mid
            return WEIGHT_STEP * hi * sign
        if n == steps:
            return None
        prev, n = n, n + probe


def disagreement(totals: Sequence[Decimal], threshold: Decimal | None) -> dict[str, Any]:
    """The spread of the experts' totals and whether it crosses the threshold."""
    lo, hi = min(totals), max(totals)
    crosses = threshold is not None and lo < threshold <= hi
    return {"min": lo, "max": hi, "spread": hi - lo, "crosses_threshold": crosses}
