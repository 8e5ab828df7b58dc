"""API shapes of the scoring service: applications, their experts, expert and panel scores, explanations. Decimals
travel as strings (exact), never as floats."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.common.bounds import CalendarDate, FirstUseDate, FirstUseYear, PastDate, ShortText, Text, TextCheck
from services.scoring.criteria.schemas import DecisionRuleOut
from services.scoring.schemas import Dec, DecIn, Id, InModel, JsonObject, Key, OutModel, no_float

ExpertCode = Annotated[ShortText, Field(max_length=120)]
# An expert's reason for a level: may be empty for a derived criterion (the rules require it for the others).
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000), TextCheck]
Ref = Annotated[str, StringConstraints(max_length=200), TextCheck]


class ApplicationIn(InModel):
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
    applicant: Text
    organisation_id: Id | None = None
    criteria_version_id: Id | None = Field(
        default=None, description="Default: the version in force on the assessment date."
    )
    submitted_on: PastDate
    assessed_on: PastDate | None = Field(
        default=None, description="The as-of date of the assessment (technology age); default submitted_on."
    )
    facts: JsonObject = Field(default_factory=dict, description="Supporting facts from the applicant.")


class ApplicationOut(OutModel):
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


class AssignmentIn(InModel):
    expert_code: ExpertCode = Field(examples=["expert-07"])
    expert_name: ShortText
    conflict_of_interest: bool = Field(default=False, description="Declared: the expert is recused.")
    conflict_statement: Text | None = None


class AssignmentOut(OutModel):
    id: int
    application_id: int
    expert_code: str
    expert_name: str
    conflict_of_interest: bool
    conflict_statement: str | None
    recused: bool


class LevelChoice(InModel):
    criterion: Key = Field(examples=["complexity"])
    level: DecIn
    reason: Reason = Field(default="", description="Required: why this level.")

    _f = field_validator("level", mode="before")(no_float)


class ExpertScoreIn(InModel):
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

    expert_code: ExpertCode | None = Field(
        default=None, description="Optional: the expert of the token, who scores as themselves (403 for another)."
    )
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


class ScoreCardIn(InModel):
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

    ref: Ref | None = None
    criteria_version_id: Id | None = None
    first_used_world_year: FirstUseYear
    first_used_world_on: FirstUseDate | None = None
    as_of: CalendarDate
    levels: dict[Key, DecIn]

    @field_validator("levels", mode="before")
    @classmethod
    def _levels(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: no_float(v) for k, v in value.items()}
        return value
