"""API shapes shared by the scoring service's features. Decimals travel as strings (exact), never as floats."""

import math
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from services.scoring.rules import fmt

# Output decimals: plain text without trailing zeros ("0.75", "10").
Dec = Annotated[Decimal, PlainSerializer(fmt, return_type=str, when_used="always")]


def no_float(value: Any) -> Any:
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


class InModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        why = _storable(value)
        if why:
            raise ValueError(why)
        return value


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
