"""API shapes of the scoring service: medical technologies and their first use in the world. Decimals travel as
strings (exact), never as floats."""

from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from services.common.bounds import FirstUseDate, FirstUseYear, ShortText, Text
from services.scoring.schemas import MAX_ID, InModel, OutModel

# A technology's code and its procedure codes: at most 50 of them, on registration and on correction alike.
Code = Annotated[ShortText, Field(max_length=120)]
Codes = Annotated[list[ShortText], Field(max_length=50)]


class TechnologyIn(InModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "TAVI",
                    "name_kk": "Транскатетерлік қолқа қақпақшасын имплантациялау",
                    "name_ru": "Транскатетерная имплантация аортального клапана",
                    "clinical_profile": "cardiac_surgery",
                    "codes": ["35.05"],
                    "first_used_world_year": 2002,
                    "first_used_world_on": "2002-04-16",
                    "introduced_kz_year": 2012,
                    "performing_organisations": 4,
                }
            ]
        },
    )

    code: Code
    name_kk: Text
    name_ru: Text | None = None
    clinical_profile: ShortText
    codes: Codes = Field(default_factory=list)
    first_used_world_year: FirstUseYear
    first_used_world_on: FirstUseDate | None = Field(
        default=None, description="Exact first use in the world; when null, 1 January of the year is used."
    )
    introduced_kz_year: FirstUseYear | None = None
    performing_organisations: int | None = Field(default=None, ge=0, le=MAX_ID)
    description: Text | None = None


class TechnologyPatch(InModel):
    name_kk: Text | None = None
    name_ru: Text | None = None
    clinical_profile: ShortText | None = None
    codes: Codes | None = None
    first_used_world_year: FirstUseYear | None = Field(
        default=None,
        description="Only the current value: a correction goes through PUT /technologies/{technology_id}/first-use, "
        "which keeps the earlier value.",
    )
    first_used_world_on: FirstUseDate | None = Field(default=None, description="Only the current value (as above).")
    introduced_kz_year: FirstUseYear | None = None
    performing_organisations: int | None = Field(default=None, ge=0, le=MAX_ID)
    description: Text | None = None


class FirstUseIn(InModel):
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

    first_used_world_year: FirstUseYear
    first_used_world_on: FirstUseDate | None = Field(
        default=None, description="Exact first use in the world; when null, 1 January of the year is used."
    )
    basis: Text = Field(description="The source that establishes the corrected first use.")


class FirstUseOut(OutModel):
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


class TechnologyOut(OutModel):
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
