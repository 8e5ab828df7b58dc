"""The monitoring API's shapes. Amounts are decimal strings in thousand tenge; dates are Almaty dates."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.bounds import CalendarDate, Int32Id, ShortText, Text
from services.common.models.monitoring import ProgressStatus
from services.common.models.registry import CalendarDayKind, FundingSource, ReportingStage
from services.common.review import ReviewAction, ReviewState

Amount = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=3, examples=["1250.5"])]
IndicatorValue = Annotated[Decimal, Field(ge=-(10**15), le=10**15, max_digits=20, decimal_places=4, examples=["72.4"])]
PeriodYear = Annotated[int, Field(ge=2000, le=2100, examples=[2021], description="The reporting year.")]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WriteSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- reports --------------------------------------------------------------------------------------------


class CompletionDocument(WriteSchema):
    form: ShortText = Field(description="A completion form's code (GET /api/v1/completion-forms).", examples=["order"])
    number: ShortText | None = Field(default=None, examples=["ҚР ДСМ-12"])
    date: CalendarDate | None = None


class Spent(WriteSchema):
    source: FundingSource
    amount: Amount


class Actual(WriteSchema):
    indicator: Int32Id = Field(description="The indicator's number in its document.", examples=[12])
    value: IndicatorValue


class ProgressReportWrite(WriteSchema):
    status: ProgressStatus
    narrative_kk: Text | None = None
    narrative_ru: Text | None = None
    completion: CompletionDocument | None = None
    spent: list[Spent] = Field(default_factory=list, max_length=len(FundingSource))
    actuals: list[Actual] = Field(default_factory=list, max_length=200)
    attachments: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list,
        max_length=50,
        description="Ids of files uploaded with POST /api/v1/attachments (the organisation's own).",
    )
    reason: Text | None = Field(default=None, description="Why (recorded in the history).")

    @model_validator(mode="after")
    def _narrative(self) -> "ProgressReportWrite":
        if self.narrative_kk is None and self.narrative_ru is None:
            raise ValueError("a narrative in Kazakh or Russian (narrative_kk, narrative_ru) is required")
        if len({s.source for s in self.spent}) != len(self.spent):
            raise ValueError("spent: a funding source is listed twice")
        if len({a.indicator for a in self.actuals}) != len(self.actuals):
            raise ValueError("actuals: an indicator is listed twice")
        if len(set(self.attachments)) != len(self.attachments):
            raise ValueError("attachments: an attachment is listed twice")
        return self


class ProgressReportCreate(ProgressReportWrite):
    measure_id: Int32Id
    period_year: PeriodYear
    organisation_id: Int32Id | None = Field(default=None, description="Default: the caller's organisation.")


class ReturnBody(WriteSchema):
    reason: Text


class ReasonBody(WriteSchema):
    reason: Text | None = None


class CompletionOut(Schema):
    form: str
    name_kk: str
    number: str | None
    date: date | None


class SpentOut(Schema):
    source: FundingSource
    amount: Decimal


class ActualOut(Schema):
    indicator: int
    indicator_id: int
    value: Decimal


class PartOut(Schema):
    """A co-executor's report, as its lead consolidates it."""

    expected_report_id: int
    organisation_id: int
    organisation_code: str
    report_id: int | None
    state: ReviewState | None
    status: ProgressStatus | None
    spent_total: Decimal | None


class ViolationOut(Schema):
    rule: str
    importance: str
    message: str


class ProgressReportOut(Schema):
    id: int
    expected_report_id: int
    document: str
    measure_id: int
    measure_number: str
    direction_code: str
    period_year: int
    organisation_id: int
    organisation_code: str
    lead_expected_report_id: int | None = Field(description="The lead's expected report a co-executor reports to.")
    reviewer: str = Field(description='Who reviews it: "ministry", or "lead" (a co-executor\'s report).')
    due_date: date
    version: int
    revision: int = Field(description="1 for the first filing; each correction after acceptance adds one.")
    state: ReviewState
    status: ProgressStatus
    narrative_kk: str | None
    narrative_ru: str | None
    completion: CompletionOut | None
    spent: list[SpentOut]
    actuals: list[ActualOut]
    first_submitted_on: date | None
    late: bool
    return_reason: str | None
    period_locked: bool
    allowed_actions: list[ReviewAction]
    changed_by: str
    change_reason: str | None
    action: str
    recorded_at: datetime
    parts: list[PartOut] = Field(default_factory=list, description="For a lead: its co-executors' reports.")
    attachments: list[int] = Field(default_factory=list, description="Ids of the attachments linked to it.")
    warnings: list[ViolationOut] = Field(default_factory=list, description="Warnings of the last submission.")


# --- views -----------------------------------------------------------------------------------------------


class ExpectedOut(Schema):
    expected_report_id: int
    document: str
    measure_id: int
    measure_number: str
    title_kk: str
    period_year: int
    organisation_id: int
    organisation_code: str
    lead_expected_report_id: int | None
    due_date: date
    report_id: int | None
    state: ReviewState | None = Field(description="null: nothing filed yet (not started).")
    status: ProgressStatus | None
    late: bool
    overdue: bool
    allowed_actions: list[str]


class DueOut(BaseModel):
    on: date
    due: list[ExpectedOut] = Field(description="Reports due on that day.")
    due_total: int
    overdue: list[ExpectedOut] = Field(description="Reports whose due date has passed and that were not submitted.")
    overdue_total: int
    limit: int
    offset: int


class Counts(BaseModel):
    expected: int = Field(default=0, description="Reports owed (expected reports).")
    due: int = Field(default=0, description="Of those, the ones whose due date has come (on or before `on`).")
    not_started: int = 0
    draft: int = 0
    submitted: int = 0
    returned: int = 0
    accepted: int = 0
    late: int = 0
    overdue: int = 0


class InboxOut(BaseModel):
    on: date
    organisation_id: int
    counts: Counts
    items: list[ExpectedOut]
    to_review: list[ExpectedOut] = Field(
        description="Co-executors' submitted reports awaiting this lead's review, the earliest due first: at most "
        "`limit` of them (all of them: `GET /api/v1/progress-reports?state=submitted`)."
    )
    to_review_total: int = Field(description="How many co-executors' submitted reports await this lead's review.")
    total: int
    limit: int
    offset: int


class CountsBy(Counts):
    key: str
    name_kk: str | None = None


class DashboardOut(BaseModel):
    document: str
    period_year: int
    on: date
    due_date: date | None
    ministry_due_date: date | None = Field(description="When the ministry's own consolidated report is due.")
    locked: bool
    counts: Counts
    by_executor: list[CountsBy]
    by_direction: list[CountsBy]


class LockOut(BaseModel):
    document: str
    period_year: int
    locked_at: datetime
    locked_by: str
    reason: str | None


class DeadlineEventsOut(BaseModel):
    on: date
    within_days: int
    upcoming: int = Field(description="deadline.upcoming events written now (one per expected report and due date).")
    overdue: int = Field(description="deadline.overdue events written now.")


# --- rules and calendar --------------------------------------------------------------------------------


class ReportingRuleOut(Schema):
    id: int
    document: str
    rule_key: str
    version: int
    stage: ReportingStage
    reporter: str
    recipient: str
    frequency: str
    month: int
    day: int
    relative_year: str
    counts_working_days: bool
    legal_basis: str | None
    text_kk: str
    text_ru: str | None
    valid_from: date
    valid_to: date | None
    changed_by: str
    change_reason: str | None


class ReportingRuleWrite(WriteSchema):
    recipient: ShortText
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    relative_year: str = Field(pattern="^(same|following)$")
    counts_working_days: bool = False
    legal_basis: Text
    text_kk: Text
    text_ru: Text | None = None
    effective_from: CalendarDate
    reason: Text

    @model_validator(mode="after")
    def _real_day(self) -> "ReportingRuleWrite":
        try:
            date(2024, self.month, self.day)  # a leap year: 29 February is a day some years have
        except ValueError as exc:
            raise ValueError(f"no day {self.day} in month {self.month}") from exc
        return self


class CalendarDayOut(Schema):
    day: date
    kind: CalendarDayKind
    name_kk: str | None
    name_ru: str | None
    basis: str | None
    working: bool
    changed_by: str


class CalendarDayWrite(WriteSchema):
    day: CalendarDate
    kind: CalendarDayKind
    name_kk: ShortText | None = None
    name_ru: ShortText | None = None
    basis: Text = Field(description="The act that makes it so (a Government decree transferring days off, ...).")
