"""API shapes of the scoring service: criteria versions and their decision rules. Decimals travel as strings
(exact), never as floats."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from services.common.bounds import AdoptionDate, CalendarDate, EffectiveFrom, ShortText, Text
from services.scoring.schemas import Dec, DecIn, InModel, OutModel, no_float


class LevelIn(InModel):
    value: DecIn
    points: DecIn | None = Field(default=None, description="The printed 'Өлшемшарт баллы' (weight × value).")
    wording_kk: Text
    wording_ru: Text | None = None

    _f = field_validator("value", "points", mode="before")(no_float)


class AgeBandIn(InModel):
    min_years: int = Field(ge=0, le=500)
    max_years: int | None = Field(default=None, ge=0, le=500)
    level: DecIn

    _f = field_validator("level", mode="before")(no_float)


class AgeRuleIn(InModel):
    unit: Literal["whole_years_since_first_use_in_world"] = "whole_years_since_first_use_in_world"
    bands: list[AgeBandIn] = Field(min_length=1, max_length=20)
    note: Text | None = None


class CriterionIn(InModel):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$", examples=["complexity"])
    position: int = Field(ge=1, le=100)
    name_kk: Text
    name_ru: Text | None = None
    weight: DecIn = Field(examples=["0.5"])
    rule_kind: Literal["expert", "age_bands"] = "expert"
    rule: AgeRuleIn | None = None
    levels: list[LevelIn] = Field(min_length=1, max_length=20)

    _f = field_validator("weight", mode="before")(no_float)


class CriteriaVersionIn(InModel):
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

    code: Annotated[ShortText, Field(max_length=120)]
    title_kk: Text
    title_ru: Text | None = None
    legal_basis: Text
    act_number: Annotated[ShortText, Field(max_length=60)] | None = None
    act_date: AdoptionDate | None = None
    valid_from: EffectiveFrom
    valid_to: CalendarDate | None = None
    max_score: Annotated[DecIn, Field(gt=0, le=Decimal("999.99"))] = Decimal(10)
    score_decimals: int = Field(default=4, ge=0, le=6)
    threshold: DecIn | None = None
    combination_rule: Literal["mean", "median", "trimmed_mean"] | None = None
    trim_fraction: DecIn | None = None
    source_file: ShortText | None = None
    criteria: list[CriterionIn] = Field(min_length=1, max_length=30)

    _f = field_validator("max_score", "threshold", "trim_fraction", mode="before")(no_float)


class DecisionRuleIn(InModel):
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
                }
            ]
        },
    )

    threshold: DecIn | None
    combination_rule: Literal["mean", "median", "trimmed_mean"] | None
    trim_fraction: DecIn | None = None
    effective_from: EffectiveFrom | None = Field(
        default=None,
        description="The rule applies to classifications on and after this date (within the version's dates in "
        "force); default: the version's first day. Earlier settings stay in the history and keep applying to "
        "the dates before a later setting's effective date.",
    )
    basis: Text = Field(description="The document that sets the rule.")

    _f = field_validator("threshold", "trim_fraction", mode="before")(no_float)


class DecisionRuleOut(OutModel):
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


class LevelOut(OutModel):
    position: int
    value: Dec
    printed_points: Dec | None
    wording_kk: str
    wording_ru: str | None


class CriterionOut(OutModel):
    id: int
    code: str
    position: int
    name_kk: str
    name_ru: str | None
    weight: Dec
    rule_kind: str
    rule: dict[str, Any] | None
    levels: list[LevelOut]


class CriteriaVersionOut(OutModel):
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
