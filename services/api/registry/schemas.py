"""The registry API's shapes. Amounts are decimal strings; dates are ISO dates."""

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer, model_validator

from services.common.bounds import (
    AdoptionDate,
    CalendarDate,
    EffectiveFrom,
    Int32Id,
    ShortText,
    Text,
    TextCheck,
)
from services.common.models.reference import OrganisationKind
from services.common.models.registry import (
    DesiredDirection,
    FundingNote,
    FundingSource,
    MeasurementFrequency,
    TargetKind,
    TargetSource,
)
from services.common.money import AmountUnit
from services.common.periods import Deadline, Year

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), TextCheck]
BudgetCode = Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=120)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=3, examples=["265173"])]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WriteSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- reads --------------------------------------------------------------------------------------------


class CompletionFormOut(Schema):
    code: str
    name_kk: str
    name_ru: str | None


class ExecutorOut(Schema):
    code: str = Field(examples=["ДСМ"])
    name_kk: str
    name_ru: str | None
    kind: OrganisationKind
    is_lead: bool
    by_agreement: bool = Field(description='"(келісу бойынша)": a non-government executor by agreement.')


class FinancingOut(Schema):
    year: int | None = Field(examples=[2019])
    amount: str = Field(description="As printed, in `unit`.", examples=["265173"])
    unit: AmountUnit
    amount_thousand_tenge: str = Field(examples=["265173"])
    source: FundingSource
    programme: str | None = Field(description="Budget programme, e.g. 067.", examples=["067"])
    subprogramme: str | None = Field(examples=["100"])


class DeadlineOut(Schema):
    kind: str = Field(examples=["year_span"])
    year: int | None = None
    month: int | None = None
    quarter: int | None = None
    half: int | None = None
    start_year: int | None = Field(default=None, examples=[2019])
    end_year: int | None = Field(default=None, examples=[2022])
    date: str | None = None


class SubItemOut(Schema):
    label: str | None
    text_kk: str
    text_ru: str | None


class MeasureOut(Schema):
    id: int
    key: str
    document: str = Field(examples=["cancer-plan-2018-2022"])
    version: int
    valid_from: date
    valid_to: date | None
    changed_by: str
    change_act: str | None
    number: str = Field(examples=["10"])
    direction: str = Field(examples=["I"])
    section: str | None = Field(examples=["2"])
    title_kk: str
    title_ru: str | None
    completion_form: CompletionFormOut | None
    deadline: DeadlineOut | None
    deadline_raw: str | None = Field(examples=["2019 – 2022 жылдар"])
    due_dates: list[date] = Field(description="The concrete due dates the deadline creates.")
    executors: list[ExecutorOut]
    financing: list[FinancingOut]
    financing_total_thousand_tenge: str | None = Field(examples=["2831647"])
    financing_total_printed: str | None = Field(examples=["2831646"])
    funding_note: FundingNote | None
    funding_raw: str | None
    indicators: list[int] = Field(description="Numbers of the target indicators the measure is filed under.")


class MeasureDetail(MeasureOut):
    sub_items: list[SubItemOut]
    source_lines: list[int] | None = Field(description="First and last line of the row in the source text.")


class MeasurePage(Schema):
    items: list[MeasureOut]
    total: int
    limit: int
    offset: int


class EditionOut(Schema):
    kind: str
    number: str
    adopted_on: date
    note_kk: str | None


class ReportingRuleOut(Schema):
    reporter: str
    recipient: str
    month: int
    day: int
    relative_year: str
    text_kk: str


class DocumentOut(Schema):
    slug: str = Field(examples=["cancer-plan-2018-2022"])
    version: int
    valid_from: date
    valid_to: date | None
    changed_by: str
    change_act: str | None
    kind: str = Field(examples=["government_decree"])
    number: str = Field(examples=["395"])
    adopted_on: date
    issuer_kk: str
    issuer_ru: str | None
    title_kk: str
    title_ru: str | None
    period_start: date | None
    period_end: date | None


class DocumentDetail(DocumentOut):
    editions: list[EditionOut]
    reporting_rules: list[ReportingRuleOut]
    measures: int
    indicators: int
    directions: int


class SectionOut(Schema):
    code: str
    title_kk: str
    title_ru: str | None


class DirectionOut(Schema):
    document: str
    code: str = Field(examples=["I"])
    title_kk: str
    title_ru: str | None
    sections: list[SectionOut]
    measures: int


class TargetOut(Schema):
    year: int
    kind: TargetKind = Field(description="value, ratio, dash (a printed '-') or empty (an empty cell).")
    value: Decimal | None
    ratio_consequent: Decimal | None = Field(description="For a ratio a:b, b (value is a).")
    printed: str | None = Field(examples=["19.0", "2.2:1", "-"])

    @field_serializer("value", "ratio_consequent")
    def _text(self, v: Decimal | None) -> str | None:
        return None if v is None else format(v.normalize(), "f")


class IndicatorOut(Schema):
    id: int
    document: str
    number: int = Field(examples=[1])
    direction: str
    name_kk: str
    name_ru: str | None
    unit_kk: str | None
    desired_direction: DesiredDirection
    frequency: MeasurementFrequency
    targets: list[TargetOut] = Field(description="Section 6 targets, every year of the table.")


class IndicatorDetail(IndicatorOut):
    action_plan_header_kk: str | None
    action_plan_targets: list[TargetOut]
    measures: list[int] = Field(description="Ids of the measures filed under this indicator.")
    source_lines: list[int] | None


class TargetsBySource(Schema):
    source: TargetSource


class OrganisationOut(Schema):
    code: str
    name_kk: str
    name_ru: str | None
    kind: OrganisationKind
    region_code: str | None
    in_abbreviation_list: bool


class DataQualityOut(Schema):
    id: int
    document_slug: str
    location: str
    rule: str = Field(examples=["year_total_mismatch"])
    message: str
    expected: str | None
    actual: str | None
    difference: Decimal | None
    first_line: int | None
    last_line: int | None

    @field_serializer("difference")
    def _text(self, v: Decimal | None) -> str | None:
        return None if v is None else format(v.normalize(), "f")


class FinancingGroup(Schema):
    year: int | None = None
    source: FundingSource | None = None
    amount_thousand_tenge: str = Field(description="Sum over the measures' financing rows.")
    published_thousand_tenge: str | None = Field(description="The document's own printed total, where it prints one.")
    difference: str | None = Field(description="amount − published, where both exist.")


class FinancingSummary(Schema):
    document: str
    as_of: date
    group_by: str
    unit: str = "thousand_tenge"
    groups: list[FinancingGroup]
    total_thousand_tenge: str
    published_total_thousand_tenge: str | None


# --- writes -------------------------------------------------------------------------------------------


class DocumentWrite(WriteSchema):
    kind: ShortText = Field(examples=["government_decree"])
    number: ShortText = Field(examples=["395"])
    adopted_on: AdoptionDate
    issuer_kk: Text
    issuer_ru: Text | None = None
    title_kk: Text
    title_ru: Text | None = None
    period_start: CalendarDate | None = None
    period_end: CalendarDate | None = None
    effective_from: EffectiveFrom | None = Field(
        default=None, description="When this text takes effect; today if omitted."
    )
    change_act: Text | None = Field(default=None, examples=["government_decree No 162 of 2026-03-11"])

    @model_validator(mode="after")
    def _period(self) -> "DocumentWrite":
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class DocumentCreate(DocumentWrite):
    slug: Slug = Field(examples=["cancer-plan-2023-2027"])


class ExecutorIn(WriteSchema):
    code: Code = Field(examples=["ДСМ"])
    by_agreement: bool = False


class FinancingIn(WriteSchema):
    year: Year | None
    amount: Amount
    unit: AmountUnit = AmountUnit.thousand_tenge
    source: FundingSource
    programme: BudgetCode | None = None
    subprogramme: BudgetCode | None = None

    @model_validator(mode="after")
    def _sub_needs_programme(self) -> "FinancingIn":
        if self.subprogramme and not self.programme:
            raise ValueError("subprogramme needs a programme")
        if self.programme and self.source != FundingSource.republican_budget:
            raise ValueError("a budget programme is given only for the republican budget")
        return self


class SubItemIn(WriteSchema):
    label: Annotated[str, StringConstraints(max_length=20), TextCheck] | None = None
    text_kk: Text
    text_ru: Text | None = None


class MeasureWrite(WriteSchema):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), TextCheck] = Field(
        examples=["54"]
    )
    direction: Code = Field(examples=["I"])
    section: Code | None = Field(default=None, examples=["1"])
    title_kk: Text
    title_ru: Text | None = None
    completion_form: Code | None = Field(
        default=None, description="A completion form code.", examples=["information_to_moh"]
    )
    deadline: Deadline | None = None
    deadline_raw: Text | None = None
    executors: list[ExecutorIn] = Field(max_length=100, description="In order; the first is the lead executor.")
    financing: list[FinancingIn] = Field(default_factory=list, max_length=100)
    funding_note: FundingNote | None = None
    funding_raw: Text | None = None
    sub_items: list[SubItemIn] = Field(default_factory=list, max_length=200)
    indicators: list[Int32Id] = Field(default_factory=list, max_length=200)
    effective_from: EffectiveFrom | None = Field(
        default=None, description="When this version takes effect; today if omitted."
    )
    change_act: Text | None = None

    @model_validator(mode="after")
    def _funding(self) -> "MeasureWrite":
        if self.funding_note == FundingNote.not_required and self.financing:
            raise ValueError("funding_note 'not_required' contradicts the financing rows")
        return self
