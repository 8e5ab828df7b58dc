"""Wire shapes of the Guarantee Programme API (regions, profiles, Annex 1, Annex 2, norms, statistics)."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.api.bulk.schemas import BatchResultBase
from services.common.bounds import CalendarDate, EffectiveFrom, TextCheck
from services.common.models.guarantee import Comparator, NormFormula
from services.common.models.reference import RegionKind


class CeilingColumn(StrEnum):
    total = "total"
    children = "children"
    adults = "adults"
    rural_total = "rural_total"
    rural_children = "rural_children"
    rural_adults = "rural_adults"


OBLAST_COLUMNS = list(CeilingColumn)
CITY_COLUMNS = [CeilingColumn.total, CeilingColumn.children, CeilingColumn.adults]


class StatisticCode(StrEnum):
    population = "population"
    population_children = "population_children"
    population_rural = "population_rural"
    ambulance_brigades = "ambulance_brigades"
    physician_brigades = "physician_brigades"
    phc_ambulance_brigades_4th_urgency = "phc_ambulance_brigades_4th_urgency"
    registered_population_urban = "registered_population_urban"
    gp_posts = "gp_posts"
    vaccination_contingent = "vaccination_contingent"
    vaccinated = "vaccinated"
    days_to_specialised_treatment_max = "days_to_specialised_treatment_max"
    palliative_beds = "palliative_beds"
    socially_significant_patients = "socially_significant_patients"
    dynamic_observation_patients = "dynamic_observation_patients"
    green_corridor_workup_working_days_max = "green_corridor_workup_working_days_max"


class RegionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kato_code": "710000000",
                    "name_kk": "Астана қаласы",
                    "name_ru": "город Астана",
                    "kind": "city",
                    "position": 19,
                }
            ]
        }
    )

    kato_code: str
    name_kk: str
    name_ru: str | None
    kind: RegionKind
    position: int


class ProfileOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "cardiology",
                    "name_kk": "Кардиологиялық",
                    "name_ru": "Кардиология",
                    "position": 8,
                    "note": "printed as the adjective",
                }
            ]
        }
    )

    code: str
    name_kk: str
    name_ru: str | None
    position: int
    note: str | None


class CeilingVolumeOut(BaseModel):
    """One Annex 1 row. `values` holds the requested columns; null where the cell prints `*` (no bed fund),
    where the column does not exist (rural columns of the cities) or where no value can be assigned."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region": "100000000",
                    "region_name_kk": "Абай облысы",
                    "profile": "gastroenterology",
                    "profile_name_kk": "Гастроэнтерология",
                    "is_region_total": False,
                    "layout": "oblast",
                    "unit": "planned_cases",
                    "values": {
                        "total": 1801,
                        "children": 0,
                        "adults": 1801,
                        "rural_total": 0,
                        "rural_children": 0,
                        "rural_adults": 0,
                    },
                    "printed": {
                        "total": "1 801",
                        "children": "0",
                        "adults": "1 801",
                        "rural_total": "0",
                        "rural_children": "0",
                        "rural_adults": "0",
                    },
                    "no_bed_fund": False,
                    "cell_assignment": "direct",
                    "note": None,
                    "lines": [968, 971],
                }
            ]
        }
    )

    region: str
    region_name_kk: str
    profile: str | None = Field(description="Profile code; null for the region's 'all profiles' row.")
    profile_name_kk: str | None
    is_region_total: bool
    layout: str
    unit: str = "planned_cases"
    values: dict[CeilingColumn, int | None]
    printed: dict[CeilingColumn, str | None]
    no_bed_fund: bool = Field(description="The row prints the footnote mark * (no bed fund for the profile).")
    cell_assignment: str
    note: str | None
    lines: list[int]


class DataQualityOut(BaseModel):
    id: int
    rule: str
    location: str
    region: str | None
    profile: str | None
    message: str
    expected: str | None
    actual: str | None
    difference: Decimal | None
    lines: list[int] | None


class PaymentMethodOut(BaseModel):
    row_position: int
    row_number: str | None
    care_type_kk: str
    position: int
    text_kk: str
    sub_items: list[dict[str, Any]]
    lines: list[int] | None


class AccessNormOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "palliative_beds_per_population",
                    "version": 1,
                    "item": "7)",
                    "measure": "provision of palliative care beds",
                    "unit": "beds",
                    "comparator": "=",
                    "threshold": "10",
                    "per_population": "100000",
                    "eval_comparator": ">=",
                    "eval_threshold": "10",
                    "eval_per_persons": 100000,
                    "valid_from": "2025-10-09",
                    "valid_to": None,
                }
            ]
        }
    )

    code: str
    version: int
    item: str
    text_kk: str
    measure: str
    unit: str
    comparator: Comparator
    threshold: Decimal | None
    threshold_printed: str | None
    range_min: Decimal | None
    range_max: Decimal | None
    per_population: Decimal | None
    per_population_unit_kk: str | None
    per_population_persons_literal: int | None
    eval_formula: NormFormula
    eval_numerator: str
    eval_denominator: str | None
    eval_per_persons: int | None
    eval_comparator: Comparator
    eval_threshold: Decimal
    eval_note: str | None
    legal_basis: str
    legal_basis_date: date | None = Field(description="Date of the act named in legal_basis.")
    valid_from: date
    valid_to: date | None
    note: str | None
    recorded_by: str | None = Field(description="Who recorded the version (loader for the seed).")
    recorded_at: datetime


class NormUnit(StrEnum):
    """Units of an access norm's threshold."""

    brigades = "brigades"
    beds = "beds"
    percent = "percent"
    persons = "persons"
    calendar_days = "calendar_days"
    working_days = "working_days"


Threshold = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=4, examples=["12"])]


class NormEvaluationIn(BaseModel):
    """How the version is checked against reference statistics: value = formula(statistics), met when
    value <comparator> threshold."""

    model_config = ConfigDict(extra="forbid")

    formula: NormFormula
    numerator: StatisticCode
    denominator: StatisticCode | None = None
    per_persons: Annotated[int | None, Field(ge=1, le=1_000_000_000_000)] = None
    comparator: Comparator
    threshold: Threshold
    note: Annotated[str | None, Field(max_length=2000), TextCheck] = None


class NormVersionIn(BaseModel):
    """A new version of an access norm (an amended act). It takes effect on `valid_from`, which closes the
    version in force until then; nothing is overwritten.

    `evaluation` may be left out when the norm is an "at least" / "at most" threshold: the check then keeps the
    current statistics and formula and takes the comparator, the threshold and the population base from this
    version. A "=" reading or a range needs `evaluation` spelled out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "valid_from": "2027-01-01",
                    "legal_basis": "ҚР Үкіметінің 2026 жылғы 20 желтоқсандағы № 1000 қаулысы",
                    "legal_basis_date": "2026-12-20",
                    "text_kk": "100 000 тұрғынға шаққанда кемінде 12 паллиативтік төсек",
                    "unit": "beds",
                    "comparator": ">=",
                    "threshold": "12",
                    "threshold_printed": "кемінде 12",
                    "per_population": "100000",
                    "per_population_unit_kk": "тұрғын",
                    "per_population_persons": 100000,
                }
            ]
        },
    )

    valid_from: EffectiveFrom = Field(description="The date the version takes effect.")
    legal_basis: Annotated[str, Field(min_length=1, max_length=1000, description="The act (name, number)."), TextCheck]
    legal_basis_date: CalendarDate = Field(description="The date of the act.")
    text_kk: Annotated[str, Field(min_length=1, max_length=4000, description="The norm's text as printed."), TextCheck]
    measure: Annotated[
        str | None,
        Field(min_length=1, max_length=1000, description="What is measured (default: as before)."),
        TextCheck,
    ] = None
    unit: NormUnit
    comparator: Comparator
    threshold: Threshold | None = None
    threshold_printed: Annotated[str | None, Field(max_length=500), TextCheck] = None
    range_min: Threshold | None = None
    range_max: Threshold | None = None
    per_population: Annotated[Decimal | None, Field(gt=0, max_digits=20, decimal_places=4)] = None
    per_population_unit_kk: Annotated[str | None, Field(max_length=100, examples=["тұрғын"]), TextCheck] = None
    per_population_persons: Annotated[
        int | None, Field(ge=1, le=1_000_000_000_000, description="The population base in persons.")
    ] = None
    evaluation: NormEvaluationIn | None = None
    note: Annotated[str | None, Field(max_length=4000), TextCheck] = None


class StatisticIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Annotated[str, Field(pattern=r"^\d{9}$", examples=["710000000"])]
    year: Annotated[int, Field(ge=1991, le=2100, examples=[2026])]
    code: StatisticCode
    value: Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=4, examples=["1354556"])]


class StatisticsUpload(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": "Бюро национальной статистики, 2026",
                    "synthetic": False,
                    "statistics": [{"region": "710000000", "year": 2026, "code": "population", "value": "1354556"}],
                }
            ]
        },
    )

    source: Annotated[str, Field(min_length=1, max_length=500), TextCheck]
    synthetic: bool = False
    statistics: Annotated[list[StatisticIn], Field(min_length=1, max_length=10_000)]


class StatisticsUploadResult(BaseModel):
    received: int
    new_versions: int
    unchanged: int


class StatisticBatchResult(BatchResultBase):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "stat-bureau-2026-q4",
                    "mode": "per_row",
                    "status": "partially_accepted",
                    "duplicate": False,
                    "rows_total": 2,
                    "rows_accepted": 1,
                    "rows_new": 0,
                    "rows_new_version": 1,
                    "rows_unchanged": 0,
                    "rows_rejected": 1,
                    "kept_lines": [[2, 2]],
                    "refused": [{"line": 3, "errors": [{"field": "code", "reason": "unknown statistic code beds"}]}],
                    "refused_truncated": False,
                    "bytes": 81,
                    "content_sha256": "…",
                }
            ]
        }
    )

    kind: str = "reference_statistics"
    rows_new: int = Field(description="Accepted rows for a region, year and statistic that had no value yet.")
    rows_new_version: int = Field(
        description="Accepted rows whose value differs from the current one: a new "
        "version, the old one kept (not current)."
    )
    rows_unchanged: int = Field(description="Accepted rows equal to the current value (no new version).")


class StatisticOut(BaseModel):
    region: str
    year: int
    code: str
    value: Decimal
    source: str
    synthetic: bool
    version: int
    recorded_at: datetime


class ValueSource(StrEnum):
    reference_statistics = "reference_statistics"
    akimat_information = "akimat_information"


class AkimatFigure(BaseModel):
    """An accepted figure of an akimat's information (seed 002, item 80) for an access norm, and where it comes
    from: the agreement, the information (its period and revision) and its acceptance."""

    value: Decimal
    met: bool
    agreement_id: int
    information_id: int
    indicator: str
    period: str
    revision: int
    accepted_at: datetime | None
    accepted_by: str | None


class NormEvaluationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region": "710000000",
                    "region_name_kk": "Астана қаласы",
                    "year": 2026,
                    "norm": "palliative_beds_per_population",
                    "norm_version": 1,
                    "measure": "provision of palliative care beds",
                    "unit": "beds",
                    "value": "8.1234",
                    "comparator": ">=",
                    "threshold": "10",
                    "met": False,
                    "gap": "-1.8766",
                    "inputs": {"palliative_beds": "110", "population": "1354556"},
                    "missing": [],
                    "synthetic_inputs": True,
                }
            ]
        }
    )

    region: str
    region_name_kk: str
    year: int
    norm: str
    norm_version: int
    measure: str
    unit: str
    value: Decimal | None
    comparator: Comparator
    threshold: Decimal
    met: bool | None = Field(description="null when a statistic the norm needs is missing")
    gap: Decimal | None = Field(description="value − threshold (negative: below, positive: above)")
    inputs: dict[str, Decimal]
    missing: list[str]
    synthetic_inputs: bool = Field(description="true when any input is from the SYNTHETIC demo set")
    value_source: ValueSource | None = Field(
        default=None,
        description="Where `value` comes from: the reference statistics, or (when the statistics are missing or "
        "synthetic) the figure of the akimat's accepted information against its agreement; null without a value.",
    )
    akimat_information: AkimatFigure | None = Field(
        default=None,
        description="The figure the akimat's accepted information gives for this norm, with its provenance.",
    )
