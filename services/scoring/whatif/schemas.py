"""API shapes of the scoring service: what-if rescoring, saved scenarios and the robustness of decisions. Decimals
travel as strings (exact), never as floats."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common.bounds import CalendarDate, ShortText
from services.scoring.applications.schemas import LevelFlipOut, WeightFlipOut
from services.scoring.schemas import Dec, DecIn, Id, InModel, Key, no_float


class WhatIfIn(InModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"as_of": "2027-01-01", "weights": {"innovativeness": "0.2", "complexity": "0.4"}}]
        },
    )

    as_of: CalendarDate
    criteria_version_id: Id | None = Field(default=None, description="Default: the version in force on as_of.")
    weights: dict[Key, DecIn] | None = Field(
        default=None, description="Replace these weights (the set must still sum to 1)."
    )
    threshold: DecIn | None = Field(default=None, description="Replace the threshold.")

    @field_validator("weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: no_float(v) for k, v in value.items()}
        return value

    _f = field_validator("threshold", mode="before")(no_float)


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
    name: ShortText


class ScenarioOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    created_by: str | None
    result: WhatIfOut
