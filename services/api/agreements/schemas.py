"""Wire shapes of the agreements API: the model form, agreements, the akimats' information."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.bounds import EffectiveFrom, PastDate, ShortText, Text, TextCheck
from services.common.models.agreements import IndicatorKind
from services.common.models.guarantee import Comparator
from services.common.review import ReviewAction, ReviewState

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,79}$"), TextCheck]
Kato = Annotated[str, StringConstraints(pattern=r"^\d{9}$")]
Year = Annotated[int, Field(ge=2000, le=2100)]
# A figure or a target: a decimal with up to four decimals, within numeric(20, 4) (16 digits before the point).
Figure = Annotated[Decimal, Field(max_digits=20, decimal_places=4, gt=-(10**16), lt=10**16, allow_inf_nan=False)]
# What a column of 80 characters holds (an order's or an agreement's number).
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), TextCheck]

# The basis written on every deadline: item 80 says the agreement holds the deadlines, and sets none.
NOT_IN_DECREE = "set by the ministry, not in the decree (seed 002, item 80 names the deadlines but sets none)"


class Period(StrEnum):
    """A period the akimat's information covers: a quarter of the agreement's year, or the whole year."""

    q1 = "Q1"
    q2 = "Q2"
    q3 = "Q3"
    q4 = "Q4"
    year = "year"


PERIOD_ORDER = [Period.q1, Period.q2, Period.q3, Period.q4, Period.year]


class Party(StrEnum):
    ministry = "ministry"
    akimat = "akimat"
    fund = "fund"


class AgreementState(StrEnum):
    draft = "draft"  # not signed by every party yet: its targets may still change
    signed = "signed"  # signed by the Ministry, the akimat and the Fund: information is filed against it


# --- the model form ---------------------------------------------------------------------------------


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), TextCheck]
    title_kk: ShortText
    title_ru: ShortText | None = None


class DeadlineIn(BaseModel):
    """When the information of a period is due: day and month, in the period's year or a later one."""

    model_config = ConfigDict(extra="forbid")

    period: Period
    due_day: int = Field(ge=1, le=31)
    due_month: int = Field(ge=1, le=12)
    year_offset: int = Field(ge=0, le=1, description="0: in the agreement's year; 1: in the year after it.")


class DeadlineOut(DeadlineIn):
    in_decree: bool = Field(description="Always false: the decree sets no deadline; the ministry does.")
    basis: str


class IndicatorIn(BaseModel):
    """A target indicator of the form: an access norm by its code, or one the form names itself."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    kind: IndicatorKind
    section: Annotated[str, StringConstraints(max_length=20), TextCheck] | None = None
    norm_code: Code | None = Field(default=None, description="For kind access_norm: the norm's code.")
    name_kk: ShortText | None = None
    name_ru: ShortText | None = None
    unit: Annotated[str, StringConstraints(min_length=1, max_length=40), TextCheck] | None = None
    comparator: Comparator | None = None


class IndicatorOut(BaseModel):
    code: str
    kind: IndicatorKind
    section: str | None
    norm_code: str | None
    name_kk: str | None
    name_ru: str | None
    unit: str | None
    comparator: Comparator | None


class FormIn(BaseModel):
    """A version of the model form as the Ministry's order approves it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "guarantee-programme-agreement",
                    "title_kk": "Бағдарламаны іске асыру туралы үлгілік келісім",
                    "order_number": "ҚР ДСМ-1",
                    "order_date": "2026-01-15",
                    "valid_from": "2026-01-15",
                    "reason": "бұйрық",
                    "sections": [{"number": "1", "title_kk": "Нысаналы көрсеткіштер"}],
                    "indicators": [
                        {
                            "code": "palliative_beds",
                            "kind": "access_norm",
                            "norm_code": "palliative_beds_per_population",
                        }
                    ],
                }
            ]
        },
    )

    code: Code
    title_kk: Text
    title_ru: Text | None = None
    order_number: Number
    order_date: PastDate
    valid_from: EffectiveFrom
    reason: Text | None = None
    sections: list[SectionIn] = Field(default_factory=list, max_length=100)
    indicators: list[IndicatorIn] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Omitted: every item 79 access norm in force on valid_from, each by its code.",
    )
    deadlines: list[DeadlineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="Omitted: the ministry's default deadlines (quarters by the 10th of the next month, the year "
        "by 1 March of the next), marked as set by the ministry, not in the decree.",
    )


class FormVersionIn(BaseModel):
    """A new version of a form (a new order): the same shape without the code."""

    model_config = ConfigDict(extra="forbid")

    title_kk: Text
    title_ru: Text | None = None
    order_number: Number
    order_date: PastDate
    valid_from: EffectiveFrom
    reason: Text
    sections: list[SectionIn] = Field(default_factory=list, max_length=100)
    indicators: list[IndicatorIn] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Omitted: every item 79 access norm in force on valid_from, each by its code.",
    )
    deadlines: list[DeadlineIn] | None = Field(default=None, min_length=1, max_length=5)


class FormOut(BaseModel):
    id: int
    code: str
    version: int
    title_kk: str
    title_ru: str | None
    order_number: str
    order_date: date
    valid_from: date
    valid_to: date | None
    reason: str | None
    sections: list[SectionIn]
    indicators: list[IndicatorOut]
    deadlines: list[DeadlineOut]
    changed_by: str
    recorded_at: datetime


# --- agreements -------------------------------------------------------------------------------------


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: Code
    target: Figure


class AgreementIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"region": "710000000", "year": 2026, "form": "guarantee-programme-agreement", "number": "1-К"}
            ]
        },
    )

    region: Kato
    year: Year
    form: Code = Field(description="The form's code; the version in force today (Almaty) is used.")
    number: Number | None = None
    targets: list[TargetIn] = Field(
        default_factory=list,
        max_length=200,
        description="Targets per indicator; an access norm's defaults to the norm's threshold in force on 31 "
        "December of the year. An indicator the form names itself needs one.",
    )


class TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[TargetIn] = Field(min_length=1, max_length=200)


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signed_on: PastDate | None = Field(default=None, description="Default: today (Almaty).")


class SignatureOut(BaseModel):
    party: Party
    signed_on: date | None
    signed_by: str | None


class TargetOut(BaseModel):
    indicator: str
    kind: IndicatorKind
    norm_code: str | None
    norm_version: int | None
    target: Decimal
    comparator: Comparator
    from_norm: bool


class AgreementOut(BaseModel):
    id: int
    region: str
    year: int
    form: str
    form_version: int
    number: str | None
    state: AgreementState
    signatures: list[SignatureOut]
    targets: list[TargetOut]
    created_by: str
    created_at: datetime


# --- the akimat's information -----------------------------------------------------------------------


class FigureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator: Code
    value: Figure


class InformationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "period": "year",
                    "narrative_kk": "Паллиативтік төсектер саны артты.",
                    "figures": [{"indicator": "palliative_beds", "value": "10.5"}],
                }
            ]
        },
    )

    period: Period
    narrative_kk: Text | None = None
    narrative_ru: Text | None = None
    figures: list[FigureIn] = Field(default_factory=list, max_length=200)


class InformationEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    narrative_kk: Text | None = None
    narrative_ru: Text | None = None
    figures: list[FigureIn] = Field(default_factory=list, max_length=200)


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class FigureOut(BaseModel):
    indicator: str
    value: Decimal


class InformationOut(BaseModel):
    id: int
    agreement_id: int
    region: str
    year: int
    period: Period
    revision: int
    state: ReviewState
    allowed_actions: list[ReviewAction]
    narrative_kk: str | None
    narrative_ru: str | None
    figures: list[FigureOut]
    due_on: date
    submitted_on: date | None
    submitted_at: datetime | None
    late: bool
    return_reason: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_by: str


class RegionInformationOut(BaseModel):
    """One region's agreement of a year and which periods of information the ministry has accepted (item 81)."""

    region: str
    region_name_kk: str
    agreement_id: int | None
    agreement_state: AgreementState | None
    periods: list[Period] = Field(description="The periods the agreement's form sets deadlines for.")
    accepted: list[Period]
    awaiting_review: list[Period]
    missing: list[Period]
    annual_accepted: bool
    accepted_information_ids: list[int]
