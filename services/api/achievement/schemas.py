"""The shapes of indicator actuals, achievement rules and achievement. Figures travel as decimal strings.

Words: every outcome carries a stable code (`status`, `reason`) and its explanation built from the same figures and
the same code, in English (`explanation`), Kazakh (`explanation_kk`) and Russian (`explanation_ru`), from the one
catalogue in `words.py`; the trend likewise (`trend_explanation`, `_kk`, `_ru`). Both languages travel in every
answer, as the registry's other texts do (`name_kk`/`name_ru`, `message_kk`/`message_ru`): no language parameter.
"""

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer, model_validator

from services.api.achievement.rules import Reason, Status, Trend
from services.api.bulk.schemas import BatchResultBase
from services.common.bounds import EffectiveFrom, ShortText, Text, TextCheck
from services.common.models.achievement import ActualKind, ActualOrigin, MissingRule, RatioComparison
from services.common.models.registry import DesiredDirection, MeasurementFrequency, TargetKind, TargetSource
from services.common.review import ReviewAction, ReviewState

Figure = Annotated[
    Decimal,
    Field(ge=0, max_digits=20, decimal_places=4, examples=["19.5"], description="Not negative, up to 4 decimals."),
]
Consequent = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=4, examples=["1"])]
Year = Annotated[int, Field(ge=1991, le=2100)]
OrgCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), TextCheck]


def _text(v: Decimal | None) -> str | None:
    if v is None:
        return None
    text = format(v, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- rules ----------------------------------------------------------------------------------------------


class RuleOut(Out):
    indicator_id: int
    version: int = Field(description="0: the document's own rule (no version written by the ministry in force).")
    valid_from: str | None = Field(description="ISO date; null for the document's rule.")
    valid_to: str | None
    direction: DesiredDirection
    tolerance: Decimal | None = Field(description="For hold: the allowed distance from the target; null: none set.")
    ratio_comparison: RatioComparison
    target_years: list[int] | None = Field(description="Null: the years the document prints a figure for.")
    effective_target_years: list[int] = Field(description="The years that carry a target under this rule.")
    missing_rule: MissingRule
    requires_review: bool = Field(description="Actuals go through the review cycle; only accepted ones count.")
    responsible_organisation: str | None = Field(description="The organisation code that enters the actuals.")
    basis: str
    changed_by: str

    @field_serializer("tolerance")
    def _tol(self, v: Decimal | None) -> str | None:
        return _text(v)


class RuleWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: DesiredDirection
    tolerance: Figure | None = None
    ratio_comparison: RatioComparison = RatioComparison.quotient
    target_years: Annotated[list[Year], Field(max_length=40)] | None = None
    missing_rule: MissingRule = MissingRule.not_evaluable
    requires_review: bool = False
    responsible_organisation: OrgCode | None = None
    basis: Text = Field(description="The act or decision the change rests on.", examples=["ДСМ бұйрығы No 1"])
    effective_from: EffectiveFrom | None = Field(None, description="Default: today.")


# --- actuals --------------------------------------------------------------------------------------------


class ActualWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ActualKind
    value: Figure | None = Field(None, description="The figure, or a ratio's first term.")
    ratio_consequent: Consequent | None = Field(None, description="A ratio's second term (a:b → b).")
    no_data_reason: Text | None = None
    source: ShortText = Field(examples=["ҚР Ұлттық статистика бюросы, 2026"])

    @model_validator(mode="after")
    def _shape(self) -> "ActualWrite":
        if self.kind is ActualKind.value and (
            self.value is None or self.ratio_consequent is not None or self.no_data_reason
        ):
            raise ValueError("a value needs `value` alone")
        if self.kind is ActualKind.ratio and (
            self.value is None or self.ratio_consequent is None or self.no_data_reason
        ):
            raise ValueError("a ratio needs `value` and `ratio_consequent`")
        if self.kind is ActualKind.no_data and (
            self.value is not None or self.ratio_consequent is not None or not self.no_data_reason
        ):
            raise ValueError("'no data' needs `no_data_reason` and no figures")
        return self


class ReviewWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["accept", "return"]
    reason: Text | None = Field(None, description="Required to return.")


class ActualOut(Out):
    version: int
    state: ReviewState
    kind: ActualKind
    value: Decimal | None
    ratio_consequent: Decimal | None
    no_data_reason: str | None
    source: str
    origin: ActualOrigin
    organisation: str | None = None
    batch_id: str | None
    return_reason: str | None
    late: bool = Field(description="Filed after the reporting day for the year (marked, not refused).")
    valid_from: str
    valid_to: str | None
    recorded_by: str

    @field_serializer("value", "ratio_consequent")
    def _fig(self, v: Decimal | None) -> str | None:
        return _text(v)


class FilingOut(Out):
    indicator_id: int
    year: int
    due_on: str | None = Field(description="The reporting day for the year, from the decree (ISO date).")
    current: ActualOut
    counted: ActualOut | None = Field(description="The accepted version that counts for achievement today.")
    allowed_actions: list[ReviewAction]
    history: list[ActualOut]


# --- achievement ----------------------------------------------------------------------------------------


class PrintedTargetOut(Out):
    source: TargetSource
    kind: TargetKind
    printed: str | None


class TargetOutcomeOut(Out):
    sources: list[TargetSource]
    printed: str | None
    kind: TargetKind
    value: Decimal | None
    ratio_consequent: Decimal | None
    status: Status
    reason: Reason
    explanation: str = Field(description="In English: the target, the comparison and the rule.")
    explanation_kk: str = Field(description="The same in Kazakh (numbers as 1 234,5).")
    explanation_ru: str = Field(description="The same in Russian (numbers as 1 234,5).")

    @field_serializer("value", "ratio_consequent")
    def _fig(self, v: Decimal | None) -> str | None:
        return _text(v)


class CountedActualOut(Out):
    version: int
    kind: ActualKind
    value: Decimal | None
    ratio_consequent: Decimal | None
    no_data_reason: str | None
    source: str
    accepted_on: str

    @field_serializer("value", "ratio_consequent")
    def _fig(self, v: Decimal | None) -> str | None:
        return _text(v)


class YearAnswerOut(Out):
    year: int
    printed: list[PrintedTargetOut] = Field(description="Each source's target for the year as printed.")
    targets: list[TargetOutcomeOut] = Field(description="The distinct figures printed, each judged on its own.")
    two_targets: bool = Field(description="Section 6 and the action plan print different figures for the year.")
    actual: CountedActualOut | None
    status: Status
    reason: Reason
    explanation: str = Field(description="In English: which targets, which comparison, which rule.")
    explanation_kk: str = Field(description="The same in Kazakh (numbers as 1 234,5).")
    explanation_ru: str = Field(description="The same in Russian (numbers as 1 234,5).")


class AnswerOut(YearAnswerOut):
    indicator_id: int
    number: int
    name_kk: str
    unit_kk: str | None
    frequency: MeasurementFrequency
    direction: DesiredDirection
    rule_version: int


class TrajectoryOut(Out):
    indicator_id: int
    number: int
    name_kk: str
    unit_kk: str | None
    frequency: MeasurementFrequency
    rule: RuleOut
    years: list[YearAnswerOut]
    trend: Trend
    trend_explanation: str
    trend_explanation_kk: str
    trend_explanation_ru: str


class IndicatorActualBatchResult(BatchResultBase):
    kind: str = "indicator_actuals"
    rows_new: int = Field(description="Rows for an indicator and year that had no actual.")
    rows_new_version: int = Field(description="Rows that gave an indicator and year a new version.")
    rows_unchanged: int = Field(description="Rows equal to the current version (same figures, source and state).")
