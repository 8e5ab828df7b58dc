"""API shapes of the scoring service: decisions, the HTMC list over time, moves to specialised care. Decimals
travel as strings (exact), never as floats."""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.common.bounds import CalendarDate, PastDate, ShortText, Text
from services.scoring.schemas import Dec, InModel, OutModel


class DecisionIn(InModel):
    outcome: Literal["include", "refuse"]
    decided_on: PastDate
    document_number: Annotated[ShortText, Field(max_length=120)] = Field(examples=["Commission minutes No. 12"])
    document_title: Text | None = None
    reason: Text | None = Field(default=None, description="Required when the outcome goes against the score.")


class MoveIn(InModel):
    decided_on: CalendarDate = Field(description="The technology leaves the list from this date.")
    document_number: Annotated[ShortText, Field(max_length=120)]
    document_title: Text | None = None
    reason: Text


class DecisionOut(OutModel):
    id: int
    kind: str
    technology_id: int
    application_id: int | None
    criteria_version_id: int | None
    decided_on: date
    document_number: str
    document_title: str | None
    reason: str | None
    score: Dec | None
    threshold: Dec | None


class ListEntryOut(BaseModel):
    technology_id: int
    technology_code: str
    name_kk: str
    application_id: int | None
    valid_from: date
    valid_to: date | None
    included_by: int
    removed_by: int | None


class CandidateOut(BaseModel):
    technology_id: int
    technology_code: str
    name_kk: str
    listed_since: date
    age_years: int
    score_at_decision: Dec | None
    score_now: Dec
    threshold: Dec
    reason: str
