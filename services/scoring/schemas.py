"""API shapes shared by the scoring service's features. Decimals travel as strings (exact), never as floats."""

import math
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

from services.common.bounds import INT32_MAX, Int32Id, TextCheck
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

# Ids are Postgres `integer`s (the common bounds).
MAX_ID = INT32_MAX
Id = Int32Id

# A name used as a key (a criterion's code in a card of levels or weights): text with the common checks.
Key = Annotated[str, StringConstraints(min_length=1, max_length=60), TextCheck]


def _storable(value: Any) -> str | None:
    """Why Postgres could not store this value (text or JSONB), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "may not contain the NUL character (U+0000)"
        if any(unicodedata.category(ch) == "Cs" for ch in value):
            return "must be valid Unicode (a lone surrogate was sent)"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        # JSON allows any integer; the audit log and the answers are written with orjson, which holds 64 bits.
        return None if -(2**63) <= value < 2**64 else "numbers must be within 64 bits (±9.2e18)"
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


def storable_json(value: Any) -> Any:
    """Free JSON (stored as JSONB) Postgres can store: no NUL character in any key or text, finite numbers."""
    why = _storable(value)
    if why:
        raise ValueError(why)
    return value


# Free-form JSON taken as it is (an application's supporting facts).
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]


class InModel(BaseModel):
    """A request shape: unknown fields refused; its text, ids and dates use the common bounded types
    (services/common/bounds.py)."""

    model_config = ConfigDict(extra="forbid")


class OutModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
