"""API shapes of the scoring service. Decimals travel as strings (exact), never as floats."""

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from services.scoring.rules import fmt

# Output decimals: plain text without trailing zeros ("0.75", "10").
Dec = Annotated[Decimal, PlainSerializer(fmt, return_type=str, when_used="always")]


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        # JSON numbers arrive as floats: take their shortest decimal text (7.5 → "7.5"), never binary noise.
        return Decimal(repr(value))
    return value


# Input decimals: finite, at most 12 digits of which at most 6 decimals (the widest column, numeric(12,6)).
# Tighter limits (4 decimals for a weight, 2 for a level, 3 for a trim share) are checked by the rules, by field.
DecIn = Annotated[Decimal, Field(examples=["7.5"], allow_inf_nan=False, max_digits=12, decimal_places=6)]
# Ids are Postgres `integer`s.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _storable(value: Any) -> str | None:
    """Why Postgres could not store this value (text or JSONB), or None."""
    if isinstance(value, str):
        return "may not contain the NUL character (U+0000)" if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, dict):
        for k, v in value.items():
            why = _storable(k) or _storable(v)
            if why:
                return why
    if isinstance(value, list | tuple):
        for v in value:
            why = _storable(v)
            if why:
                return why
    return None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        why = _storable(value)
        if why:
            raise ValueError(why)
        return value


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------------------------------------ criteria


class LevelIn(_In):
    value: DecIn
    points: DecIn | None = Field(default=None, description="The printed 'Өлшемшарт баллы' (weight × value).")
    wording_kk: str = Field(min_length=1)
    wording_ru: str | None = None

    _f = field_validator("value", "points", mode="before")(_no_float)


class AgeBandIn(_In):
    min_years: int = Field(ge=0, le=500)
    max_years: int | None = Field(default=None, ge=0, le=500)
    level: DecIn

    _f = field_validator("level", mode="before")(_no_float)


class AgeRuleIn(_In):
    unit: Literal["whole_years_since_first_use_in_world"] = "whole_years_since_first_use_in_world"
    bands: list[AgeBandIn] = Field(min_length=1, max_length=20)
    note: str | None = None


class CriterionIn(_In):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$", examples=["complexity"])
    position: int = Field(ge=1, le=100)
    name_kk: str = Field(min_length=1)
    name_ru: str | None = None
    weight: DecIn = Field(examples=["0.5"])
    rule_kind: Literal["expert", "age_bands"] = "expert"
    rule: AgeRuleIn | None = None
    levels: list[LevelIn] = Field(min_length=1, max_length=20)

    _f = field_validator("weight", mode="before")(_no_float)


class CriteriaVersionIn(_In):
    """A criteria set. Refused unless the weights sum to exactly 1 and every scale is monotone."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "order-129-2025-11-01",
                    "title_kk": "ЖТМК түрлерін айқындау өлшемшарттары",
                    "legal_basis": "ҚР ДСМ бұйрығы № 129, 01.11.2025",
                    "act_number": "129",
                    "act_date": "2025-11-01",
                    "valid_from": "2025-11-01",
                    "max_score": "10",
                    "criteria": [
                        {
                            "code": "complexity",
                            "position": 1,
                            "name_kk": "Күрделілігі",
                            "weight": "1",
                            "levels": [{"value": "10", "wording_kk": "…"}, {"value": "5", "wording_kk": "…"}],
                        }
                    ],
                }
            ]
        },
    )

    code: str = Field(min_length=1, max_length=120)
    title_kk: str = Field(min_length=1)
    title_ru: str | None = None
    legal_basis: str = Field(min_length=1)
    act_number: str | None = Field(default=None, max_length=60)
    act_date: date | None = None
    valid_from: date
    valid_to: date | None = None
    max_score: Annotated[DecIn, Field(gt=0, le=Decimal("999.99"))] = Decimal(10)
    score_decimals: int = Field(default=4, ge=0, le=6)
    threshold: DecIn | None = None
    combination_rule: Literal["mean", "median", "trimmed_mean"] | None = None
    trim_fraction: DecIn | None = None
    source_file: str | None = None
    criteria: list[CriterionIn] = Field(min_length=1, max_length=30)

    _f = field_validator("max_score", "threshold", "trim_fraction", mode="before")(_no_float)


class DecisionRuleIn(_In):
    """What the order leaves to the administrator: the threshold and how experts' scores combine."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "threshold": "7.5",
                    "combination_rule": "median",
                    "trim_fraction": None,
                    "basis": "Commission minutes No. 3 of 2025-12-01",
                    "set_by": "admin@moh",
                }
            ]
        },
    )

    threshold: DecIn | None
    combination_rule: Literal["mean", "median", "trimmed_mean"] | None
    trim_fraction: DecIn | None = None
    effective_from: date | None = Field(
        default=None,
        description="The rule applies to classifications on and after this date (within the version's dates in "
        "force); default: the version's first day. Earlier settings stay in the history and keep applying to "
        "the dates before a later setting's effective date.",
    )
    basis: str = Field(min_length=1, description="The document that sets the rule.")
    set_by: str = Field(min_length=1)

    _f = field_validator("threshold", "trim_fraction", mode="before")(_no_float)


class DecisionRuleOut(_Out):
    """One setting of a version's decision rule; kept for ever, superseded by later settings."""

    id: int
    version_id: int
    effective_from: date
    threshold: Dec | None
    combination_rule: str | None
    trim_fraction: Dec | None
    basis: str
    set_by: str | None
    set_at: datetime


class LevelOut(_Out):
    position: int
    value: Dec
    printed_points: Dec | None
    wording_kk: str
    wording_ru: str | None


class CriterionOut(_Out):
    id: int
    code: str
    position: int
    name_kk: str
    name_ru: str | None
    weight: Dec
    rule_kind: str
    rule: dict[str, Any] | None
    levels: list[LevelOut]


class CriteriaVersionOut(_Out):
    id: int
    code: str
    title_kk: str
    title_ru: str | None
    legal_basis: str
    act_number: str | None
    act_date: date | None
    valid_from: date
    valid_to: date | None
    max_score: Dec
    score_decimals: int
    threshold: Dec | None
    combination_rule: str | None
    trim_fraction: Dec | None
    decision_rule_basis: str | None
    decision_rule_set_by: str | None
    decision_rule_set_at: datetime | None
    classifies: bool
    why_not_classifying: str | None
    age_boundary_note: str
    decision_rules: list[DecisionRuleOut] = Field(
        description="Every setting of the decision rule, in the order they take effect (effective_from, then id). "
        "The threshold above is the one with the latest effective date; a classification on a date uses the "
        "rule in force that day."
    )
    criteria: list[CriterionOut]
    row_version: int


# ------------------------------------------------------------------------------------------------ technologies


class TechnologyIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "TAVI",
                    "name_kk": "Транскатетерлік қолқа қақпақшасын имплантациялау",
                    "name_ru": "Транскатетерная имплантация аортального клапана",
                    "clinical_profile": "cardiac surgery",
                    "codes": ["35.05"],
                    "first_used_world_year": 2002,
                    "first_used_world_on": "2002-04-16",
                    "introduced_kz_year": 2012,
                    "performing_organisations": 4,
                }
            ]
        },
    )

    code: str = Field(min_length=1, max_length=120)
    name_kk: str = Field(min_length=1)
    name_ru: str | None = None
    clinical_profile: str = Field(min_length=1)
    codes: list[str] = Field(default_factory=list, max_length=50)
    first_used_world_year: int = Field(ge=1800, le=2100)
    first_used_world_on: date | None = Field(
        default=None, description="Exact first use in the world; when null, 1 January of the year is used."
    )
    introduced_kz_year: int | None = Field(default=None, ge=1800, le=2100)
    performing_organisations: int | None = Field(default=None, ge=0, le=MAX_ID)
    description: str | None = None


class TechnologyPatch(_In):
    name_kk: str | None = Field(default=None, min_length=1)
    name_ru: str | None = None
    clinical_profile: str | None = Field(default=None, min_length=1)
    codes: list[str] | None = None
    first_used_world_year: int | None = Field(
        default=None,
        ge=1800,
        le=2100,
        description="Only the current value: a correction goes through PUT /technologies/{technology_id}/first-use, "
        "which keeps the earlier value.",
    )
    first_used_world_on: date | None = Field(default=None, description="Only the current value (as above).")
    introduced_kz_year: int | None = Field(default=None, ge=1800, le=2100)
    performing_organisations: int | None = Field(default=None, ge=0, le=MAX_ID)
    description: str | None = None


class FirstUseIn(_In):
    """A correction of the technology's first use in the world (the date its age is counted from)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_used_world_year": 2002,
                    "first_used_world_on": "2002-04-16",
                    "basis": "Cribier et al., Circulation 2002",
                    "set_by": "registry@moh",
                }
            ]
        },
    )

    first_used_world_year: int = Field(ge=1800, le=2100)
    first_used_world_on: date | None = Field(
        default=None, description="Exact first use in the world; when null, 1 January of the year is used."
    )
    basis: str = Field(min_length=1, description="The source that establishes the corrected first use.")
    set_by: str = Field(min_length=1)


class FirstUseOut(_Out):
    """One value of a technology's first use; kept for ever, superseded by later corrections."""

    id: int
    technology_id: int
    effective_from: date | None = Field(
        description="Scoring as of this date and later uses this value (until a later correction's date); null: "
        "the value the technology was registered with, in force for every date before the first correction."
    )
    first_used_world_year: int
    first_used_world_on: date | None
    basis: str
    set_by: str | None
    set_at: datetime


class TechnologyOut(_Out):
    id: int
    code: str
    name_kk: str
    name_ru: str | None
    clinical_profile: str
    codes: list[str]
    first_used_world_year: int
    first_used_world_on: date | None
    introduced_kz_year: int | None
    performing_organisations: int | None
    description: str | None
    first_uses: list[FirstUseOut] = Field(
        default_factory=list,
        description="Every value of the first use in the world, in the order they take effect (the registered "
        "value, then corrections by effective_from and id). The first use above is the latest; scoring as of a "
        "date uses the value in force that day.",
    )
    row_version: int


# ------------------------------------------------------------------------------------------------ applications


class ApplicationIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "technology_id": 1,
                    "applicant": "ҰҒКО (National Scientific Cardiac Surgery Centre)",
                    "submitted_on": "2026-02-01",
                    "facts": {"cases_per_year": 120, "analogues_in_kz": 0},
                }
            ]
        },
    )

    technology_id: Id
    applicant: str = Field(min_length=1)
    organisation_id: Id | None = None
    criteria_version_id: Id | None = Field(
        default=None, description="Default: the version in force on the assessment date."
    )
    submitted_on: date
    assessed_on: date | None = Field(
        default=None, description="The as-of date of the assessment (technology age); default submitted_on."
    )
    facts: dict[str, Any] = Field(default_factory=dict, description="Supporting facts from the applicant.")


class ApplicationOut(_Out):
    id: int
    technology_id: int
    applicant: str
    organisation_id: int | None
    criteria_version_id: int
    submitted_on: date
    assessed_on: date
    facts: dict[str, Any]
    status: str
    panel_score: Dec | None
    panel_min: Dec | None
    panel_max: Dec | None
    decision_rule_id: int | None = Field(
        description="The decision-rule setting the panel score was made with (null: none in force, or scored "
        "before the rule was recorded with the score)."
    )
    scored_at: datetime | None
    row_version: int


class AssignmentIn(_In):
    expert_code: str = Field(min_length=1, max_length=120, examples=["expert-07"])
    expert_name: str = Field(min_length=1)
    conflict_of_interest: bool = Field(default=False, description="Declared: the expert is recused.")
    conflict_statement: str | None = None


class AssignmentOut(_Out):
    id: int
    application_id: int
    expert_code: str
    expert_name: str
    conflict_of_interest: bool
    conflict_statement: str | None
    recused: bool


class LevelChoice(_In):
    criterion: str = Field(min_length=1, examples=["complexity"])
    level: DecIn
    reason: str = Field(default="", description="Required: why this level.")

    _f = field_validator("level", mode="before")(_no_float)


class ExpertScoreIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "expert_code": "expert-07",
                    "levels": [
                        {"criterion": "resource_intensity", "level": "10", "reason": "implant + 4 h theatre"},
                        {"criterion": "uniqueness", "level": "7.5", "reason": "more effective than open surgery"},
                        {"criterion": "complexity", "level": "10", "reason": "hybrid theatre, high risk"},
                    ],
                }
            ]
        },
    )

    expert_code: str = Field(min_length=1)
    levels: list[LevelChoice] = Field(min_length=1, max_length=30)


class ScoreItemOut(BaseModel):
    criterion: str
    level: Dec
    weight: Dec
    contribution: Dec
    reason: str
    derived: bool


class ExpertScoreOut(BaseModel):
    id: int
    expert_code: str
    assessed_on: date
    age_years: int
    total: Dec
    items: list[ScoreItemOut]


class PanelOut(BaseModel):
    application_id: int
    score: Dec
    combination_rule: str
    experts: int
    recused: list[str]
    min: Dec
    max: Dec
    spread: Dec
    threshold: Dec | None
    classification: Literal["htmc", "not_htmc"] | None
    why_not_classified: str | None
    experts_disagree: bool = Field(description="The experts' totals lie on both sides of the threshold.")
    decision_rule_id: int | None = Field(
        description="The decision-rule setting (threshold, combination rule, trim share) the score was combined "
        "and classified with, as stored with the score: a later setting does not change it. Null when no rule "
        "was in force on the assessment date, or for a score made before the rule was stored with scores."
    )
    decision_rule: DecisionRuleOut | None = Field(
        description="The setting used: the one named by decision_rule_id; for a score made before it was stored, "
        "the one in force on the assessment date among the settings recorded by the time of scoring."
    )


class DecisionIn(_In):
    outcome: Literal["include", "refuse"]
    decided_on: date
    document_number: str = Field(min_length=1, max_length=120, examples=["Commission minutes No. 12"])
    document_title: str | None = None
    reason: str | None = Field(default=None, description="Required when the outcome goes against the score.")


class MoveIn(_In):
    decided_on: date = Field(description="The technology leaves the list from this date.")
    document_number: str = Field(min_length=1, max_length=120)
    document_title: str | None = None
    reason: str = Field(min_length=1)


class DecisionOut(_Out):
    id: int
    kind: str
    technology_id: int
    application_id: int | None
    criteria_version_id: int | None
    decided_on: date
    document_number: str
    document_title: str | None
    reason: str | None
    score: Dec | None
    threshold: Dec | None


class ListEntryOut(BaseModel):
    technology_id: int
    technology_code: str
    name_kk: str
    application_id: int | None
    valid_from: date
    valid_to: date | None
    included_by: int
    removed_by: int | None


# ------------------------------------------------------------------------------------------------ explanations


class ContributionOut(BaseModel):
    criterion: str
    name_kk: str
    level: Dec
    weight: Dec
    contribution: Dec
    derived: bool


class LevelFlipOut(BaseModel):
    criterion: str
    from_levels: list[Dec]
    to_level: Dec
    steps: int
    score: Dec
    score_change: Dec
    derived: bool


class WeightFlipOut(BaseModel):
    criterion: str
    weight: Dec
    smallest_change: Dec | None
    new_weight: Dec | None
    score_at_change: Dec | None


class ExplanationOut(BaseModel):
    score: Dec
    criteria_version_id: int | None
    as_of: date | None
    age_years: int | None
    contributions: list[ContributionOut] = Field(
        description="Per criterion: level (the experts' mean level when several scored), weight, weight × level."
    )
    threshold: Dec | None
    classification: Literal["htmc", "not_htmc"] | None
    why_not_classified: str | None
    distance_to_threshold: Dec | None = Field(description="score − threshold (negative: below).")
    smallest_level_flip: LevelFlipOut | None
    level_flips: list[LevelFlipOut]
    weight_flips: list[WeightFlipOut]
    experts: list[dict[str, Any]] = Field(default_factory=list)
    disagreement: dict[str, Any] | None = None


class ScoreCardIn(_In):
    """An ad-hoc score: the technology's first use, the as-of date and the experts' levels."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ref": "line-1",
                    "first_used_world_year": 2012,
                    "as_of": "2026-06-01",
                    "levels": {"resource_intensity": "10", "uniqueness": "7.5", "complexity": "10"},
                }
            ]
        },
    )

    ref: str | None = Field(default=None, max_length=200)
    criteria_version_id: Id | None = None
    first_used_world_year: int = Field(ge=1800, le=2100)
    first_used_world_on: date | None = None
    as_of: date
    levels: dict[str, DecIn]

    @field_validator("levels", mode="before")
    @classmethod
    def _levels(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _no_float(v) for k, v in value.items()}
        return value


# ------------------------------------------------------------------------------------------------ what-if


class WhatIfIn(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"as_of": "2027-01-01", "weights": {"innovativeness": "0.2", "complexity": "0.4"}}]
        },
    )

    as_of: date
    criteria_version_id: Id | None = Field(default=None, description="Default: the version in force on as_of.")
    weights: dict[str, DecIn] | None = Field(
        default=None, description="Replace these weights (the set must still sum to 1)."
    )
    threshold: DecIn | None = Field(default=None, description="Replace the threshold.")

    @field_validator("weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _no_float(v) for k, v in value.items()}
        return value

    _f = field_validator("threshold", mode="before")(_no_float)


class RobustnessItem(BaseModel):
    technology_id: int
    application_id: int
    current_decision: str
    score: Dec
    threshold: Dec
    distance_to_threshold: Dec
    smallest_weight_flip: WeightFlipOut | None = Field(
        description="The one weight whose smallest change (others rescaled) flips the decision."
    )
    smallest_level_flip: LevelFlipOut | None
    experts_disagree: bool = Field(description="The experts' totals lie on both sides of the threshold.")
    spread: Dec


class WhatIfItem(BaseModel):
    technology_id: int
    application_id: int
    current_decision: str
    current_score: Dec | None
    new_score: Dec
    new_classification: Literal["htmc", "not_htmc"] | None
    changes: bool
    experts_disagree: bool


class WhatIfOut(BaseModel):
    as_of: date
    criteria_version_id: int
    weights: dict[str, Dec]
    threshold: Dec | None
    why_not_classified: str | None
    assessed: int
    changed: int
    items: list[WhatIfItem]


class ScenarioIn(WhatIfIn):
    name: str = Field(min_length=1)
    created_by: str | None = None


class ScenarioOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    created_by: str | None
    result: WhatIfOut


class CandidateOut(BaseModel):
    technology_id: int
    technology_code: str
    name_kk: str
    listed_since: date
    age_years: int
    score_at_decision: Dec | None
    score_now: Dec
    threshold: Dec
    reason: str


class JobOut(_Out):
    id: int
    status: str
    total: int
    processed: int
    failed_lines: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
