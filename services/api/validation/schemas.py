"""Request and response shapes of the validation rules."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.api.validation.rules import Importance, MissingValueStrategy, Operator, Scope
from services.common.bounds import CalendarDate, EffectiveFrom, Int32Id, Text, TextCheck

RuleCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,119}$"), Field(examples=["spent-within-planned"])
]
ExpressionText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000),
    TextCheck,
    Field(
        description="An expression over the report's figures (services/api/validation/README.md).", examples=["spent"]
    ),
]
Message = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), TextCheck]


class RuleWrite(BaseModel):
    """What a version of a rule says, and from when."""

    model_config = ConfigDict(extra="forbid")

    document_id: Int32Id | None = Field(default=None, description="The document whose reports it checks; null: all.")
    scope: Scope = Field(
        description="report: once; per_source: once per funding source; per_indicator: once per "
        "indicator the report names."
    )
    left: ExpressionText
    operator: Operator
    right: ExpressionText = Field(examples=["planned"])
    importance: Importance
    missing_value_strategy: MissingValueStrategy
    message_kk: Message = Field(examples=["{source}: игерілген қаражат ({left}) жоспарланғаннан ({right}) асады."])
    message_ru: Message = Field(examples=["{source}: освоено {left}, больше запланированного ({right})."])
    enabled: bool = Field(default=True, description="False: the rule is switched off from valid_from.")
    valid_from: EffectiveFrom | None = Field(
        default=None,
        description="When this version takes effect (default: today, Asia/Almaty); not before the latest version's.",
    )
    basis: Text = Field(description="The order or other act this version follows.", examples=["Бұйрық № 123"])


class RuleCreate(RuleWrite):
    code: RuleCode


class RuleOut(BaseModel):
    id: int
    code: str
    version: int
    latest_version: int
    document_id: int | None
    scope: Scope
    left: str
    operator: Operator
    right: str
    importance: Importance
    missing_value_strategy: MissingValueStrategy
    message_kk: str
    message_ru: str
    enabled: bool
    valid_from: date
    valid_to: date | None
    basis: str
    changed_by: str
    recorded_at: datetime


FigureName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,119}$")]
FigureValue = Annotated[Decimal, Field(max_digits=30, decimal_places=12)]


class CheckRequest(BaseModel):
    """Figures to check against the rules in force for a document on a day (what a submission runs)."""

    model_config = ConfigDict(extra="forbid")

    document_id: Int32Id
    as_of: CalendarDate | None = Field(default=None, description="Default: today (Asia/Almaty).")
    language: Literal["kk", "ru"] = "kk"
    figures: dict[FigureName, FigureValue | None] = Field(
        max_length=2000,
        examples=[{"spent.republican_budget": "120.5", "planned.republican_budget": "100"}],
    )


class ViolationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_code: str
    rule_id: int | None
    version: int | None
    importance: Importance
    scope: Scope
    source: str | None
    indicator: int | None
    left: Decimal
    operator: Operator
    right: Decimal
    message: str


class CheckResult(BaseModel):
    blocking: int = Field(description="How many violations would refuse a submission.")
    violations: list[ViolationOut]
