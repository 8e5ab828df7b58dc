"""Wire shapes every bulk upload answers with: the outcome of a batch and its refused rows."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from services.common.models.guarantee import BatchMode


class BatchStatus(StrEnum):
    accepted = "accepted"  # every row kept
    partially_accepted = "partially_accepted"  # per-row mode: some rows refused
    rejected = "rejected"  # per-row mode: every row refused


class RowError(BaseModel):
    field: str
    reason: str


class RefusedRow(BaseModel):
    line: int = Field(description="Line number in the uploaded file (the CSV header is line 1).")
    errors: list[RowError]


class BatchResultBase(BaseModel):
    """The outcome of an upload. Each upload's answer derives from it, naming its `kind` and saying what its
    new, new-version and unchanged rows are (their descriptions); the fields keep this order."""

    batch_id: str
    kind: str
    mode: BatchMode
    status: BatchStatus
    duplicate: bool = Field(False, description="true when this batch id was already taken in: nothing changed")
    rows_total: int
    rows_accepted: int
    rows_new: int
    rows_new_version: int
    rows_unchanged: int
    rows_rejected: int
    kept_lines: list[list[int]] = Field(description="Accepted lines as [first, last] ranges.")
    refused: list[RefusedRow]
    refused_truncated: bool
    bytes: int
    content_sha256: str
    received_at: datetime | None = None
