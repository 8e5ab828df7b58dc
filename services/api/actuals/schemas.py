"""Wire shapes of actuals: bulk batch results, executed volumes, planned against executed."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from services.api.bulk.schemas import BatchResultBase
from services.api.guarantee.http import YearMonth
from services.common.models.guarantee import BatchKind


class BatchResult(BatchResultBase):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "shif-2026-03-v1",
                    "kind": "executed_volumes",
                    "mode": "per_row",
                    "status": "partially_accepted",
                    "duplicate": False,
                    "rows_total": 3,
                    "rows_accepted": 2,
                    "rows_new": 2,
                    "rows_new_version": 0,
                    "rows_unchanged": 0,
                    "rows_rejected": 1,
                    "kept_lines": [[2, 3]],
                    "refused": [{"line": 4, "errors": [{"field": "region", "reason": "unknown КАТО code 999999999"}]}],
                    "refused_truncated": False,
                    "bytes": 231,
                    "content_sha256": "…",
                }
            ]
        }
    )

    kind: BatchKind
    rows_new: int = Field(description="Accepted rows for a key that had no figures yet.")
    rows_new_version: int = Field(description="Accepted rows that correct a key: a new version, the old one kept.")
    rows_unchanged: int = Field(description="Accepted rows equal to the current figures (no new version).")


class ExecutedVolumeOut(BaseModel):
    region: str
    profile: str
    provider: str | None
    month: YearMonth
    treated_cases: int
    children_cases: int
    rural_cases: int
    bed_days: int
    children_bed_days: int | None
    rural_bed_days: int | None
    version: int
    is_current: bool
    batch_id: str
    line: int
    superseded_by_batch: str | None
    recorded_at: datetime


class PlannedVsExecutedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "region": "710000000",
                    "region_name_kk": "Астана қаласы",
                    "profile": "cardiology",
                    "profile_name_kk": "Кардиологиялық",
                    "period_from": "2026-01",
                    "period_to": "2026-06",
                    "planned_cases": 9000,
                    "executed_cases": 4700,
                    "executed_children_cases": 100,
                    "executed_rural_cases": 0,
                    "executed_bed_days": 38000,
                    "months_reported": 6,
                    "percent_used": "52.22",
                    "over_ceiling": False,
                }
            ]
        }
    )

    region: str
    region_name_kk: str
    profile: str
    profile_name_kk: str
    period_from: YearMonth
    period_to: YearMonth
    planned_cases: int | None = Field(description="Annex 1 ceiling (annual, all ages); null where printed '*'.")
    planned_children_cases: int | None
    planned_rural_cases: int | None
    executed_cases: int
    executed_children_cases: int
    executed_rural_cases: int
    executed_bed_days: int
    months_reported: int
    percent_used: Decimal | None = Field(description="executed / planned × 100 (null when nothing is planned)")
    over_ceiling: bool = Field(description="executed cases exceed the ceiling (any case where none is planned)")
