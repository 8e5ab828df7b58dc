"""The scoring rules on the seed 004 criteria set, by hand-checked expectations (no database)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.common.errors import ValidationFailed
from services.scoring import rules
from services.scoring.criteria import service
from services.scoring.criteria.importer import read_seed
from services.scoring.criteria.schemas import CriteriaVersionIn
from services.scoring.rules import AgeBand, CriterionDef, LevelDef, VersionDef

D = Decimal


# The criteria table of Order No. 129 (data/sources/004-htmc-criteria-order-129.txt), written out here from the
# printed order, not derived from the seed: weights, the four levels of every criterion, and the innovativeness
# rows ("5 жылдан аз" -> 10, "5-10 жылдан астам" -> 7.5, "10 жылдан астам" -> 5, "15 жылдан астам" -> 2.5).
PRINTED_LEVELS = tuple(LevelDef(D(value), position) for position, value in enumerate(["10", "7.5", "5", "2.5"], 1))
PRINTED_CRITERIA = (
    CriterionDef(
        code="innovativeness",
        weight=D("0.1"),
        kind="age_bands",
        bands=(AgeBand(0, 4, D("10")), AgeBand(5, 10, D("7.5")), AgeBand(11, 15, D("5")), AgeBand(16, None, D("2.5"))),
        levels=PRINTED_LEVELS,
    ),
    CriterionDef(code="resource_intensity", weight=D("0.3"), levels=PRINTED_LEVELS),
    CriterionDef(code="uniqueness", weight=D("0.1"), levels=PRINTED_LEVELS),
    CriterionDef(code="complexity", weight=D("0.5"), levels=PRINTED_LEVELS),
)


def seed_def(threshold: str | None = None, rule: str | None = None, trim: str | None = None) -> VersionDef:
    return VersionDef(
        criteria=PRINTED_CRITERIA,
        threshold=None if threshold is None else D(threshold),
        combination_rule=rule,
        trim_fraction=None if trim is None else D(trim),
        code="seed",
    )


def test_the_seed_reads_as_the_printed_table() -> None:
    """The service's reading of the seed (criteria as the scoring rules take them) is the printed table."""
    data = CriteriaVersionIn.model_validate({k: v for k, v in read_seed().items() if k != "notes"})
    assert tuple(service._defs_from_input(data)) == PRINTED_CRITERIA


def test_seed_is_the_printed_table() -> None:
    seed = read_seed()
    assert [(c["code"], c["weight"]) for c in seed["criteria"]] == [
        ("innovativeness", "0.1"),
        ("resource_intensity", "0.3"),
        ("uniqueness", "0.1"),
        ("complexity", "0.5"),
    ]
    for c in seed["criteria"]:
        assert [lv["value"] for lv in c["levels"]] == ["10", "7.5", "5", "2.5"]
        # The printed points column is weight × value, exactly (0.1 × 7.5 = 0.75).
        for lv in c["levels"]:
            assert D(c["weight"]) * D(lv["value"]) == D(lv["points"])
    assert seed["threshold"] is None and seed["combination_rule"] is None
    assert seed["valid_from"] == "2025-11-01"
    assert rules.validate_criteria(seed_def().criteria, D(10)) == []


@pytest.mark.parametrize(
    ("first_use", "as_of", "years"),
    [
        (date(2011, 6, 15), date(2016, 6, 14), 4),
        (date(2011, 6, 15), date(2016, 6, 15), 5),  # the anniversary completes the year
        (date(2012, 2, 29), date(2017, 2, 28), 4),  # a 29 February first use completes on 1 March
        (date(2012, 2, 29), date(2017, 3, 1), 5),
        (rules.first_use_date(2010, None), date(2020, 12, 31), 10),  # a year alone means 1 January
        (rules.first_use_date(2010, None), date(2021, 1, 1), 11),
    ],
)
def test_whole_years(first_use: date, as_of: date, years: int) -> None:
    assert rules.whole_years(first_use, as_of) == years


def test_age_before_first_use_is_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        rules.whole_years(date(2020, 1, 1), date(2019, 12, 31))
    assert exc.value.errors[0]["field"] == "as_of"


@pytest.mark.parametrize(
    ("age", "level"),
    [
        (0, "10"),
        (4, "10"),
        (5, "7.5"),  # exactly 5 is not "less than 5"
        (9, "7.5"),
        (10, "7.5"),  # exactly 10 is not "more than 10"
        (11, "5"),
        (14, "5"),
        (15, "5"),  # exactly 15 is not "more than 15"
        (16, "2.5"),
        (40, "2.5"),
    ],
)
def test_innovativeness_at_each_age_boundary(age: int, level: str) -> None:
    innov = seed_def().criterion("innovativeness")
    assert innov is not None
    assert innov.level_for_age(age) == D(level)


@pytest.mark.parametrize(
    ("age", "res", "uniq", "comp", "total"),
    [
        (2, "10", "10", "10", "10"),  # every criterion at 10
        (7, "7.5", "7.5", "7.5", "7.5"),  # every criterion at 7.5
        (12, "5", "5", "5", "5"),  # every criterion at 5
        (20, "2.5", "2.5", "2.5", "2.5"),  # every criterion at 2.5
        (5, "10", "5", "2.5", "5.5"),  # 0.75 + 3 + 0.5 + 1.25
        (14, "7.5", "5", "10", "8.25"),  # 0.5 + 2.25 + 0.5 + 5
        (16, "5", "7.5", "7.5", "6.25"),  # 0.25 + 1.5 + 0.75 + 3.75
    ],
)
def test_weighted_totals(age: int, res: str, uniq: str, comp: str, total: str) -> None:
    version = seed_def()
    levels = rules.resolve_levels(
        version, {"resource_intensity": D(res), "uniqueness": D(uniq), "complexity": D(comp)}, age
    )
    result = rules.weighted_total(version, levels)
    assert isinstance(result, Decimal)
    assert result == D(total)


def test_unknown_level_and_missing_criterion_are_refused() -> None:
    version = seed_def()
    with pytest.raises(ValidationFailed) as exc:
        rules.resolve_levels(version, {"resource_intensity": D("6"), "uniqueness": D("5")}, 3)
    fields = {e["field"]: e["reason"] for e in exc.value.errors}
    assert "unknown level 6" in fields["levels.resource_intensity"]
    assert "required" in fields["levels.complexity"]
    with pytest.raises(ValidationFailed) as exc:  # a derived level contradicting the age
        rules.resolve_levels(
            version,
            {"innovativeness": D("10"), "resource_intensity": D("5"), "uniqueness": D("5"), "complexity": D("5")},
            12,
        )
    assert exc.value.errors[0]["field"] == "levels.innovativeness"


def test_weights_not_summing_to_one_are_refused() -> None:
    version = seed_def()
    crits = list(version.criteria)
    crits[3] = replace(crits[3], weight=D("0.4"))
    errors = rules.validate_criteria(crits, D(10))
    assert [e["field"] for e in errors] == ["criteria[].weight"]
    assert "sum to 0.9" in errors[0]["reason"]


def test_non_monotone_scale_is_refused() -> None:
    version = seed_def()
    crits = list(version.criteria)
    crits[1] = replace(crits[1], levels=(LevelDef(D(10), 1), LevelDef(D(5), 2), LevelDef(D("7.5"), 3)))
    errors = rules.validate_criteria(crits, D(10))
    assert errors[0]["field"] == "criteria[1].levels[2].value"
    assert "not monotone" in errors[0]["reason"]
    # Age bands must not give an older technology a higher level, nor leave gaps.
    crits = list(version.criteria)
    crits[0] = replace(crits[0], bands=(AgeBand(0, 4, D("7.5")), AgeBand(6, None, D(10))))
    fields = [e["field"] for e in rules.validate_criteria(crits, D(10))]
    assert "criteria[0].rule.bands[1].min_years" in fields
    assert "criteria[0].rule.bands[1].level" in fields


def test_combination_rules() -> None:
    totals = [D("8.25"), D("7.5"), D("6")]
    assert rules.combine(totals, "mean", None, 4) == D("7.25")
    assert rules.combine(totals, "median", None, 4) == D("7.5")
    assert rules.combine([D(8), D(7)], "median", None, 4) == D("7.5")
    five = [D("10"), D("2.5"), D("7.5"), D("8"), D("7")]
    assert rules.combine(five, "trimmed_mean", D("0.2"), 4) == D("7.5")  # drops 2.5 and 10
    assert rules.combine([D(10), D(10), D("9.75")], "mean", None, 4) == D("9.9167")  # 29.75/3, half-up


def test_explanation_flips_by_hand() -> None:
    # Age 14: innovativeness 5. 0.5 + 2.25 + 0.5 + 5 = 8.25; threshold 8.1; distance 0.15.
    version = seed_def(threshold="8.1")
    card = rules.resolve_levels(version, {"resource_intensity": D("7.5"), "uniqueness": D(5), "complexity": D(10)}, 14)
    flips = rules.level_flips(version, [card])
    smallest = flips["smallest"]
    # One step down on innovativeness (or uniqueness) costs 0.25 → 8.0 < 8.1; code order breaks the tie.
    assert (smallest["criterion"], smallest["to_level"], smallest["score"]) == ("innovativeness", D("2.5"), D(8))
    assert {(f["criterion"], f["to_level"]) for f in flips["all"] if f["steps"] == 1} == {
        ("innovativeness", D("2.5")),
        ("resource_intensity", D(5)),
        ("uniqueness", D("2.5")),
        ("complexity", D("7.5")),
    }
    weights = {w["criterion"]: w for w in rules.weight_flips(version, [card])}
    # complexity: slope 10 − 3.25/0.5 = 3.5; need −0.15 → δ < −0.042857… → −0.0429
    assert weights["complexity"]["smallest_change"] == D("-0.0429")
    # innovativeness: slope 5 − 7.75/0.9 = −3.6111…; need −0.15 → δ > 0.041538… → 0.0416
    assert weights["innovativeness"]["smallest_change"] == D("0.0416")
    assert weights["innovativeness"]["score_at_change"] < D("8.1")


def test_disagreement_flag() -> None:
    assert rules.disagreement([D(7), D(9)], D(8))["crosses_threshold"] is True
    assert rules.disagreement([D("8.5"), D(9)], D(8))["crosses_threshold"] is False
    assert rules.disagreement([D(7), D(9)], None)["crosses_threshold"] is False
